"""torchvision's published ImageNet weights, as data: for each model its default entry and, per
entry, the evaluation preset (crop size, resize size, interpolation, mean/std where not
ImageNet's) and the file's URL (read from the hub cache, or downloaded on request)."""

from __future__ import annotations

# model -> (default entry, {entry: (crop, resize, interpolation, (mean, std) or None, url)})
WEIGHTS: dict[str, tuple[str, dict[str, tuple]]] = {
    "alexnet": (
        "IMAGENET1K_V1",
        {
            "IMAGENET1K_V1": (
                224,
                256,
                "bilinear",
                None,
                "https://download.pytorch.org/models/alexnet-owt-7be5be79.pth",
            ),
        },
    ),
    "convnext_base": (
        "IMAGENET1K_V1",
        {
            "IMAGENET1K_V1": (
                224,
                232,
                "bilinear",
                None,
                "https://download.pytorch.org/models/convnext_base-6075fbad.pth",
            ),
        },
    ),
    "convnext_large": (
        "IMAGENET1K_V1",
        {
            "IMAGENET1K_V1": (
                224,
                232,
                "bilinear",
                None,
                "https://download.pytorch.org/models/convnext_large-ea097f82.pth",
            ),
        },
    ),
    "convnext_small": (
        "IMAGENET1K_V1",
        {
            "IMAGENET1K_V1": (
                224,
                230,
                "bilinear",
                None,
                "https://download.pytorch.org/models/convnext_small-0c510722.pth",
            ),
        },
    ),
    "convnext_tiny": (
        "IMAGENET1K_V1",
        {
            "IMAGENET1K_V1": (
                224,
                236,
                "bilinear",
                None,
                "https://download.pytorch.org/models/convnext_tiny-983f1562.pth",
            ),
        },
    ),
    "densenet121": (
        "IMAGENET1K_V1",
        {
            "IMAGENET1K_V1": (
                224,
                256,
                "bilinear",
                None,
                "https://download.pytorch.org/models/densenet121-a639ec97.pth",
            ),
        },
    ),
    "densenet161": (
        "IMAGENET1K_V1",
        {
            "IMAGENET1K_V1": (
                224,
                256,
                "bilinear",
                None,
                "https://download.pytorch.org/models/densenet161-8d451a50.pth",
            ),
        },
    ),
    "densenet169": (
        "IMAGENET1K_V1",
        {
            "IMAGENET1K_V1": (
                224,
                256,
                "bilinear",
                None,
                "https://download.pytorch.org/models/densenet169-b2777c0a.pth",
            ),
        },
    ),
    "densenet201": (
        "IMAGENET1K_V1",
        {
            "IMAGENET1K_V1": (
                224,
                256,
                "bilinear",
                None,
                "https://download.pytorch.org/models/densenet201-c1103571.pth",
            ),
        },
    ),
    "efficientnet_b0": (
        "IMAGENET1K_V1",
        {
            "IMAGENET1K_V1": (
                224,
                256,
                "bicubic",
                None,
                "https://download.pytorch.org/models/efficientnet_b0_rwightman-7f5810bc.pth",
            ),
        },
    ),
    "efficientnet_b1": (
        "IMAGENET1K_V2",
        {
            "IMAGENET1K_V1": (
                240,
                256,
                "bicubic",
                None,
                "https://download.pytorch.org/models/efficientnet_b1_rwightman-bac287d4.pth",
            ),
            "IMAGENET1K_V2": (
                240,
                255,
                "bilinear",
                None,
                "https://download.pytorch.org/models/efficientnet_b1-c27df63c.pth",
            ),
        },
    ),
    "efficientnet_b2": (
        "IMAGENET1K_V1",
        {
            "IMAGENET1K_V1": (
                288,
                288,
                "bicubic",
                None,
                "https://download.pytorch.org/models/efficientnet_b2_rwightman-c35c1473.pth",
            ),
        },
    ),
    "efficientnet_b3": (
        "IMAGENET1K_V1",
        {
            "IMAGENET1K_V1": (
                300,
                320,
                "bicubic",
                None,
                "https://download.pytorch.org/models/efficientnet_b3_rwightman-b3899882.pth",
            ),
        },
    ),
    "efficientnet_b4": (
        "IMAGENET1K_V1",
        {
            "IMAGENET1K_V1": (
                380,
                384,
                "bicubic",
                None,
                "https://download.pytorch.org/models/efficientnet_b4_rwightman-23ab8bcd.pth",
            ),
        },
    ),
    "efficientnet_b5": (
        "IMAGENET1K_V1",
        {
            "IMAGENET1K_V1": (
                456,
                456,
                "bicubic",
                None,
                "https://download.pytorch.org/models/efficientnet_b5_lukemelas-1a07897c.pth",
            ),
        },
    ),
    "efficientnet_b6": (
        "IMAGENET1K_V1",
        {
            "IMAGENET1K_V1": (
                528,
                528,
                "bicubic",
                None,
                "https://download.pytorch.org/models/efficientnet_b6_lukemelas-24a108a5.pth",
            ),
        },
    ),
    "efficientnet_b7": (
        "IMAGENET1K_V1",
        {
            "IMAGENET1K_V1": (
                600,
                600,
                "bicubic",
                None,
                "https://download.pytorch.org/models/efficientnet_b7_lukemelas-c5b4e57e.pth",
            ),
        },
    ),
    "efficientnet_v2_l": (
        "IMAGENET1K_V1",
        {
            "IMAGENET1K_V1": (
                480,
                480,
                "bicubic",
                ((0.5, 0.5, 0.5), (0.5, 0.5, 0.5)),
                "https://download.pytorch.org/models/efficientnet_v2_l-59c71312.pth",
            ),
        },
    ),
    "efficientnet_v2_m": (
        "IMAGENET1K_V1",
        {
            "IMAGENET1K_V1": (
                480,
                480,
                "bilinear",
                None,
                "https://download.pytorch.org/models/efficientnet_v2_m-dc08266a.pth",
            ),
        },
    ),
    "efficientnet_v2_s": (
        "IMAGENET1K_V1",
        {
            "IMAGENET1K_V1": (
                384,
                384,
                "bilinear",
                None,
                "https://download.pytorch.org/models/efficientnet_v2_s-dd5fe13b.pth",
            ),
        },
    ),
    "googlenet": (
        "IMAGENET1K_V1",
        {
            "IMAGENET1K_V1": (
                224,
                256,
                "bilinear",
                None,
                "https://download.pytorch.org/models/googlenet-1378be20.pth",
            ),
        },
    ),
    "inception_v3": (
        "IMAGENET1K_V1",
        {
            "IMAGENET1K_V1": (
                299,
                342,
                "bilinear",
                None,
                "https://download.pytorch.org/models/inception_v3_google-0cc3c7bd.pth",
            ),
        },
    ),
    "mnasnet0_5": (
        "IMAGENET1K_V1",
        {
            "IMAGENET1K_V1": (
                224,
                256,
                "bilinear",
                None,
                "https://download.pytorch.org/models/mnasnet0.5_top1_67.823-3ffadce67e.pth",
            ),
        },
    ),
    "mnasnet0_75": (
        "IMAGENET1K_V1",
        {
            "IMAGENET1K_V1": (
                224,
                232,
                "bilinear",
                None,
                "https://download.pytorch.org/models/mnasnet0_75-7090bc5f.pth",
            ),
        },
    ),
    "mnasnet1_0": (
        "IMAGENET1K_V1",
        {
            "IMAGENET1K_V1": (
                224,
                256,
                "bilinear",
                None,
                "https://download.pytorch.org/models/mnasnet1.0_top1_73.512-f206786ef8.pth",
            ),
        },
    ),
    "mnasnet1_3": (
        "IMAGENET1K_V1",
        {
            "IMAGENET1K_V1": (
                224,
                232,
                "bilinear",
                None,
                "https://download.pytorch.org/models/mnasnet1_3-a4c69d6f.pth",
            ),
        },
    ),
    "mobilenet_v2": (
        "IMAGENET1K_V2",
        {
            "IMAGENET1K_V1": (
                224,
                256,
                "bilinear",
                None,
                "https://download.pytorch.org/models/mobilenet_v2-b0353104.pth",
            ),
            "IMAGENET1K_V2": (
                224,
                232,
                "bilinear",
                None,
                "https://download.pytorch.org/models/mobilenet_v2-7ebf99e0.pth",
            ),
        },
    ),
    "mobilenet_v3_large": (
        "IMAGENET1K_V2",
        {
            "IMAGENET1K_V1": (
                224,
                256,
                "bilinear",
                None,
                "https://download.pytorch.org/models/mobilenet_v3_large-8738ca79.pth",
            ),
            "IMAGENET1K_V2": (
                224,
                232,
                "bilinear",
                None,
                "https://download.pytorch.org/models/mobilenet_v3_large-5c1a4163.pth",
            ),
        },
    ),
    "mobilenet_v3_small": (
        "IMAGENET1K_V1",
        {
            "IMAGENET1K_V1": (
                224,
                256,
                "bilinear",
                None,
                "https://download.pytorch.org/models/mobilenet_v3_small-047dcff4.pth",
            ),
        },
    ),
    "regnet_x_16gf": (
        "IMAGENET1K_V2",
        {
            "IMAGENET1K_V1": (
                224,
                256,
                "bilinear",
                None,
                "https://download.pytorch.org/models/regnet_x_16gf-2007eb11.pth",
            ),
            "IMAGENET1K_V2": (
                224,
                232,
                "bilinear",
                None,
                "https://download.pytorch.org/models/regnet_x_16gf-ba3796d7.pth",
            ),
        },
    ),
    "regnet_x_1_6gf": (
        "IMAGENET1K_V2",
        {
            "IMAGENET1K_V1": (
                224,
                256,
                "bilinear",
                None,
                "https://download.pytorch.org/models/regnet_x_1_6gf-e3633e7f.pth",
            ),
            "IMAGENET1K_V2": (
                224,
                232,
                "bilinear",
                None,
                "https://download.pytorch.org/models/regnet_x_1_6gf-a12f2b72.pth",
            ),
        },
    ),
    "regnet_x_32gf": (
        "IMAGENET1K_V2",
        {
            "IMAGENET1K_V1": (
                224,
                256,
                "bilinear",
                None,
                "https://download.pytorch.org/models/regnet_x_32gf-9d47f8d0.pth",
            ),
            "IMAGENET1K_V2": (
                224,
                232,
                "bilinear",
                None,
                "https://download.pytorch.org/models/regnet_x_32gf-6eb8fdc6.pth",
            ),
        },
    ),
    "regnet_x_3_2gf": (
        "IMAGENET1K_V2",
        {
            "IMAGENET1K_V1": (
                224,
                256,
                "bilinear",
                None,
                "https://download.pytorch.org/models/regnet_x_3_2gf-f342aeae.pth",
            ),
            "IMAGENET1K_V2": (
                224,
                232,
                "bilinear",
                None,
                "https://download.pytorch.org/models/regnet_x_3_2gf-7071aa85.pth",
            ),
        },
    ),
    "regnet_x_400mf": (
        "IMAGENET1K_V2",
        {
            "IMAGENET1K_V1": (
                224,
                256,
                "bilinear",
                None,
                "https://download.pytorch.org/models/regnet_x_400mf-adf1edd5.pth",
            ),
            "IMAGENET1K_V2": (
                224,
                232,
                "bilinear",
                None,
                "https://download.pytorch.org/models/regnet_x_400mf-62229a5f.pth",
            ),
        },
    ),
    "regnet_x_800mf": (
        "IMAGENET1K_V2",
        {
            "IMAGENET1K_V1": (
                224,
                256,
                "bilinear",
                None,
                "https://download.pytorch.org/models/regnet_x_800mf-ad17e45c.pth",
            ),
            "IMAGENET1K_V2": (
                224,
                232,
                "bilinear",
                None,
                "https://download.pytorch.org/models/regnet_x_800mf-94a99ebd.pth",
            ),
        },
    ),
    "regnet_x_8gf": (
        "IMAGENET1K_V2",
        {
            "IMAGENET1K_V1": (
                224,
                256,
                "bilinear",
                None,
                "https://download.pytorch.org/models/regnet_x_8gf-03ceed89.pth",
            ),
            "IMAGENET1K_V2": (
                224,
                232,
                "bilinear",
                None,
                "https://download.pytorch.org/models/regnet_x_8gf-2b70d774.pth",
            ),
        },
    ),
    "regnet_y_128gf": (
        "IMAGENET1K_SWAG_E2E_V1",
        {
            "IMAGENET1K_SWAG_E2E_V1": (
                384,
                384,
                "bicubic",
                None,
                "https://download.pytorch.org/models/regnet_y_128gf_swag-c8ce3e52.pth",
            ),
            "IMAGENET1K_SWAG_LINEAR_V1": (
                224,
                224,
                "bicubic",
                None,
                "https://download.pytorch.org/models/regnet_y_128gf_lc_swag-cbe8ce12.pth",
            ),
        },
    ),
    "regnet_y_16gf": (
        "IMAGENET1K_V2",
        {
            "IMAGENET1K_V1": (
                224,
                256,
                "bilinear",
                None,
                "https://download.pytorch.org/models/regnet_y_16gf-9e6ed7dd.pth",
            ),
            "IMAGENET1K_V2": (
                224,
                232,
                "bilinear",
                None,
                "https://download.pytorch.org/models/regnet_y_16gf-3e4a00f9.pth",
            ),
            "IMAGENET1K_SWAG_E2E_V1": (
                384,
                384,
                "bicubic",
                None,
                "https://download.pytorch.org/models/regnet_y_16gf_swag-43afe44d.pth",
            ),
            "IMAGENET1K_SWAG_LINEAR_V1": (
                224,
                224,
                "bicubic",
                None,
                "https://download.pytorch.org/models/regnet_y_16gf_lc_swag-f3ec0043.pth",
            ),
        },
    ),
    "regnet_y_1_6gf": (
        "IMAGENET1K_V2",
        {
            "IMAGENET1K_V1": (
                224,
                256,
                "bilinear",
                None,
                "https://download.pytorch.org/models/regnet_y_1_6gf-b11a554e.pth",
            ),
            "IMAGENET1K_V2": (
                224,
                232,
                "bilinear",
                None,
                "https://download.pytorch.org/models/regnet_y_1_6gf-0d7bc02a.pth",
            ),
        },
    ),
    "regnet_y_32gf": (
        "IMAGENET1K_V2",
        {
            "IMAGENET1K_V1": (
                224,
                256,
                "bilinear",
                None,
                "https://download.pytorch.org/models/regnet_y_32gf-4dee3f7a.pth",
            ),
            "IMAGENET1K_V2": (
                224,
                232,
                "bilinear",
                None,
                "https://download.pytorch.org/models/regnet_y_32gf-8db6d4b5.pth",
            ),
            "IMAGENET1K_SWAG_E2E_V1": (
                384,
                384,
                "bicubic",
                None,
                "https://download.pytorch.org/models/regnet_y_32gf_swag-04fdfa75.pth",
            ),
            "IMAGENET1K_SWAG_LINEAR_V1": (
                224,
                224,
                "bicubic",
                None,
                "https://download.pytorch.org/models/regnet_y_32gf_lc_swag-e1583746.pth",
            ),
        },
    ),
    "regnet_y_3_2gf": (
        "IMAGENET1K_V2",
        {
            "IMAGENET1K_V1": (
                224,
                256,
                "bilinear",
                None,
                "https://download.pytorch.org/models/regnet_y_3_2gf-b5a9779c.pth",
            ),
            "IMAGENET1K_V2": (
                224,
                232,
                "bilinear",
                None,
                "https://download.pytorch.org/models/regnet_y_3_2gf-9180c971.pth",
            ),
        },
    ),
    "regnet_y_400mf": (
        "IMAGENET1K_V2",
        {
            "IMAGENET1K_V1": (
                224,
                256,
                "bilinear",
                None,
                "https://download.pytorch.org/models/regnet_y_400mf-c65dace8.pth",
            ),
            "IMAGENET1K_V2": (
                224,
                232,
                "bilinear",
                None,
                "https://download.pytorch.org/models/regnet_y_400mf-e6988f5f.pth",
            ),
        },
    ),
    "regnet_y_800mf": (
        "IMAGENET1K_V2",
        {
            "IMAGENET1K_V1": (
                224,
                256,
                "bilinear",
                None,
                "https://download.pytorch.org/models/regnet_y_800mf-1b27b58c.pth",
            ),
            "IMAGENET1K_V2": (
                224,
                232,
                "bilinear",
                None,
                "https://download.pytorch.org/models/regnet_y_800mf-58fc7688.pth",
            ),
        },
    ),
    "regnet_y_8gf": (
        "IMAGENET1K_V2",
        {
            "IMAGENET1K_V1": (
                224,
                256,
                "bilinear",
                None,
                "https://download.pytorch.org/models/regnet_y_8gf-d0d0e4a8.pth",
            ),
            "IMAGENET1K_V2": (
                224,
                232,
                "bilinear",
                None,
                "https://download.pytorch.org/models/regnet_y_8gf-dc2b1b54.pth",
            ),
        },
    ),
    "resnet101": (
        "IMAGENET1K_V2",
        {
            "IMAGENET1K_V1": (
                224,
                256,
                "bilinear",
                None,
                "https://download.pytorch.org/models/resnet101-63fe2227.pth",
            ),
            "IMAGENET1K_V2": (
                224,
                232,
                "bilinear",
                None,
                "https://download.pytorch.org/models/resnet101-cd907fc2.pth",
            ),
        },
    ),
    "resnet152": (
        "IMAGENET1K_V2",
        {
            "IMAGENET1K_V1": (
                224,
                256,
                "bilinear",
                None,
                "https://download.pytorch.org/models/resnet152-394f9c45.pth",
            ),
            "IMAGENET1K_V2": (
                224,
                232,
                "bilinear",
                None,
                "https://download.pytorch.org/models/resnet152-f82ba261.pth",
            ),
        },
    ),
    "resnet18": (
        "IMAGENET1K_V1",
        {
            "IMAGENET1K_V1": (
                224,
                256,
                "bilinear",
                None,
                "https://download.pytorch.org/models/resnet18-f37072fd.pth",
            ),
        },
    ),
    "resnet34": (
        "IMAGENET1K_V1",
        {
            "IMAGENET1K_V1": (
                224,
                256,
                "bilinear",
                None,
                "https://download.pytorch.org/models/resnet34-b627a593.pth",
            ),
        },
    ),
    "resnet50": (
        "IMAGENET1K_V2",
        {
            "IMAGENET1K_V1": (
                224,
                256,
                "bilinear",
                None,
                "https://download.pytorch.org/models/resnet50-0676ba61.pth",
            ),
            "IMAGENET1K_V2": (
                224,
                232,
                "bilinear",
                None,
                "https://download.pytorch.org/models/resnet50-11ad3fa6.pth",
            ),
        },
    ),
    "resnext101_32x8d": (
        "IMAGENET1K_V2",
        {
            "IMAGENET1K_V1": (
                224,
                256,
                "bilinear",
                None,
                "https://download.pytorch.org/models/resnext101_32x8d-8ba56ff5.pth",
            ),
            "IMAGENET1K_V2": (
                224,
                232,
                "bilinear",
                None,
                "https://download.pytorch.org/models/resnext101_32x8d-110c445d.pth",
            ),
        },
    ),
    "resnext101_64x4d": (
        "IMAGENET1K_V1",
        {
            "IMAGENET1K_V1": (
                224,
                232,
                "bilinear",
                None,
                "https://download.pytorch.org/models/resnext101_64x4d-173b62eb.pth",
            ),
        },
    ),
    "resnext50_32x4d": (
        "IMAGENET1K_V2",
        {
            "IMAGENET1K_V1": (
                224,
                256,
                "bilinear",
                None,
                "https://download.pytorch.org/models/resnext50_32x4d-7cdf4587.pth",
            ),
            "IMAGENET1K_V2": (
                224,
                232,
                "bilinear",
                None,
                "https://download.pytorch.org/models/resnext50_32x4d-1a0047aa.pth",
            ),
        },
    ),
    "shufflenet_v2_x0_5": (
        "IMAGENET1K_V1",
        {
            "IMAGENET1K_V1": (
                224,
                256,
                "bilinear",
                None,
                "https://download.pytorch.org/models/shufflenetv2_x0.5-f707e7126e.pth",
            ),
        },
    ),
    "shufflenet_v2_x1_0": (
        "IMAGENET1K_V1",
        {
            "IMAGENET1K_V1": (
                224,
                256,
                "bilinear",
                None,
                "https://download.pytorch.org/models/shufflenetv2_x1-5666bf0f80.pth",
            ),
        },
    ),
    "shufflenet_v2_x1_5": (
        "IMAGENET1K_V1",
        {
            "IMAGENET1K_V1": (
                224,
                232,
                "bilinear",
                None,
                "https://download.pytorch.org/models/shufflenetv2_x1_5-3c479a10.pth",
            ),
        },
    ),
    "shufflenet_v2_x2_0": (
        "IMAGENET1K_V1",
        {
            "IMAGENET1K_V1": (
                224,
                232,
                "bilinear",
                None,
                "https://download.pytorch.org/models/shufflenetv2_x2_0-8be3c8ee.pth",
            ),
        },
    ),
    "squeezenet1_0": (
        "IMAGENET1K_V1",
        {
            "IMAGENET1K_V1": (
                224,
                256,
                "bilinear",
                None,
                "https://download.pytorch.org/models/squeezenet1_0-b66bff10.pth",
            ),
        },
    ),
    "squeezenet1_1": (
        "IMAGENET1K_V1",
        {
            "IMAGENET1K_V1": (
                224,
                256,
                "bilinear",
                None,
                "https://download.pytorch.org/models/squeezenet1_1-b8a52dc0.pth",
            ),
        },
    ),
    "vgg11": (
        "IMAGENET1K_V1",
        {
            "IMAGENET1K_V1": (
                224,
                256,
                "bilinear",
                None,
                "https://download.pytorch.org/models/vgg11-8a719046.pth",
            ),
        },
    ),
    "vgg11_bn": (
        "IMAGENET1K_V1",
        {
            "IMAGENET1K_V1": (
                224,
                256,
                "bilinear",
                None,
                "https://download.pytorch.org/models/vgg11_bn-6002323d.pth",
            ),
        },
    ),
    "vgg13": (
        "IMAGENET1K_V1",
        {
            "IMAGENET1K_V1": (
                224,
                256,
                "bilinear",
                None,
                "https://download.pytorch.org/models/vgg13-19584684.pth",
            ),
        },
    ),
    "vgg13_bn": (
        "IMAGENET1K_V1",
        {
            "IMAGENET1K_V1": (
                224,
                256,
                "bilinear",
                None,
                "https://download.pytorch.org/models/vgg13_bn-abd245e5.pth",
            ),
        },
    ),
    "vgg16": (
        "IMAGENET1K_V1",
        {
            "IMAGENET1K_V1": (
                224,
                256,
                "bilinear",
                None,
                "https://download.pytorch.org/models/vgg16-397923af.pth",
            ),
            "IMAGENET1K_FEATURES": (
                224,
                256,
                "bilinear",
                (
                    (0.48235, 0.45882, 0.40784),
                    (0.00392156862745098, 0.00392156862745098, 0.00392156862745098),
                ),
                "https://download.pytorch.org/models/vgg16_features-amdegroot-88682ab5.pth",
            ),
        },
    ),
    "vgg16_bn": (
        "IMAGENET1K_V1",
        {
            "IMAGENET1K_V1": (
                224,
                256,
                "bilinear",
                None,
                "https://download.pytorch.org/models/vgg16_bn-6c64b313.pth",
            ),
        },
    ),
    "vgg19": (
        "IMAGENET1K_V1",
        {
            "IMAGENET1K_V1": (
                224,
                256,
                "bilinear",
                None,
                "https://download.pytorch.org/models/vgg19-dcbb9e9d.pth",
            ),
        },
    ),
    "vgg19_bn": (
        "IMAGENET1K_V1",
        {
            "IMAGENET1K_V1": (
                224,
                256,
                "bilinear",
                None,
                "https://download.pytorch.org/models/vgg19_bn-c79401a0.pth",
            ),
        },
    ),
    "vit_b_16": (
        "IMAGENET1K_V1",
        {
            "IMAGENET1K_V1": (
                224,
                256,
                "bilinear",
                None,
                "https://download.pytorch.org/models/vit_b_16-c867db91.pth",
            ),
            "IMAGENET1K_SWAG_E2E_V1": (
                384,
                384,
                "bicubic",
                None,
                "https://download.pytorch.org/models/vit_b_16_swag-9ac1b537.pth",
            ),
            "IMAGENET1K_SWAG_LINEAR_V1": (
                224,
                224,
                "bicubic",
                None,
                "https://download.pytorch.org/models/vit_b_16_lc_swag-4e70ced5.pth",
            ),
        },
    ),
    "vit_b_32": (
        "IMAGENET1K_V1",
        {
            "IMAGENET1K_V1": (
                224,
                256,
                "bilinear",
                None,
                "https://download.pytorch.org/models/vit_b_32-d86f8d99.pth",
            ),
        },
    ),
    "vit_h_14": (
        "IMAGENET1K_SWAG_E2E_V1",
        {
            "IMAGENET1K_SWAG_E2E_V1": (
                518,
                518,
                "bicubic",
                None,
                "https://download.pytorch.org/models/vit_h_14_swag-80465313.pth",
            ),
            "IMAGENET1K_SWAG_LINEAR_V1": (
                224,
                224,
                "bicubic",
                None,
                "https://download.pytorch.org/models/vit_h_14_lc_swag-c1eb923e.pth",
            ),
        },
    ),
    "vit_l_16": (
        "IMAGENET1K_V1",
        {
            "IMAGENET1K_V1": (
                224,
                242,
                "bilinear",
                None,
                "https://download.pytorch.org/models/vit_l_16-852ce7e3.pth",
            ),
            "IMAGENET1K_SWAG_E2E_V1": (
                512,
                512,
                "bicubic",
                None,
                "https://download.pytorch.org/models/vit_l_16_swag-4f3808c9.pth",
            ),
            "IMAGENET1K_SWAG_LINEAR_V1": (
                224,
                224,
                "bicubic",
                None,
                "https://download.pytorch.org/models/vit_l_16_lc_swag-4d563306.pth",
            ),
        },
    ),
    "vit_l_32": (
        "IMAGENET1K_V1",
        {
            "IMAGENET1K_V1": (
                224,
                256,
                "bilinear",
                None,
                "https://download.pytorch.org/models/vit_l_32-c7638314.pth",
            ),
        },
    ),
    "wide_resnet101_2": (
        "IMAGENET1K_V2",
        {
            "IMAGENET1K_V1": (
                224,
                256,
                "bilinear",
                None,
                "https://download.pytorch.org/models/wide_resnet101_2-32ee1156.pth",
            ),
            "IMAGENET1K_V2": (
                224,
                232,
                "bilinear",
                None,
                "https://download.pytorch.org/models/wide_resnet101_2-d733dc28.pth",
            ),
        },
    ),
    "wide_resnet50_2": (
        "IMAGENET1K_V2",
        {
            "IMAGENET1K_V1": (
                224,
                256,
                "bilinear",
                None,
                "https://download.pytorch.org/models/wide_resnet50_2-95faca4d.pth",
            ),
            "IMAGENET1K_V2": (
                224,
                232,
                "bilinear",
                None,
                "https://download.pytorch.org/models/wide_resnet50_2-9ba9bcbe.pth",
            ),
        },
    ),
}
