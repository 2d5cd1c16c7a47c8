"""The torchvision shim's drawing helpers (boxes, masks, keypoints) and the weights' metadata,
checked pixel by pixel against numpy constructions of the expected image."""

import numpy as np
import pytest
import rustdl
from rustdl.torchcompat.torchvision import models
from rustdl.torchcompat.torchvision.utils import draw_bounding_boxes, draw_keypoints, draw_segmentation_masks


def _img(c=3, h=30, w=40):
    return rustdl.from_numpy((np.arange(c * h * w) % 251).reshape(c, h, w).astype(np.uint8))


def test_box_outline_is_drawn_on_the_box_edges_only():
    img = _img()
    out = draw_bounding_boxes(img, rustdl.tensor([[2.0, 3.0, 20.0, 25.0]]), colors="red", width=2).numpy()
    want = img.numpy().copy()
    red = np.array([255, 0, 0], dtype=np.uint8)[:, None, None]
    # a rectangle of width 2 from (x 2..20, y 3..25), inclusive corners
    for y0, y1, x0, x1 in [(3, 5, 2, 21), (24, 26, 2, 21), (3, 26, 2, 4), (3, 26, 19, 21)]:
        want[:, y0:y1, x0:x1] = red
    np.testing.assert_array_equal(out, want)
    assert out.dtype == np.uint8


def test_box_fill_blends_the_colour_at_alpha_100():
    img = rustdl.zeros(3, 10, 10, dtype=rustdl.uint8)
    out = draw_bounding_boxes(
        img, rustdl.tensor([[2.0, 2.0, 7.0, 7.0]]), colors=(0, 200, 0), fill=True
    ).numpy()
    inside = out[:, 4, 4]
    # PIL blends 100/255 of (0, 200, 0) over black
    assert inside[0] == 0 and inside[2] == 0 and abs(int(inside[1]) - round(200 * 100 / 255)) <= 1
    np.testing.assert_array_equal(out[:, 2, 2], [0, 200, 0])  # the outline is opaque
    np.testing.assert_array_equal(out[:, 0, 0], [0, 0, 0])


def test_default_colours_and_grayscale_and_float_images():
    img = _img(1)
    out = draw_bounding_boxes(img, rustdl.tensor([[0.0, 0.0, 5.0, 5.0], [10.0, 10.0, 20.0, 20.0]])).numpy()
    assert out.shape == (3, 30, 40)
    # object i's default colour: (i * (2^25-1, 2^15-1, 2^21-1)) mod 255
    np.testing.assert_array_equal(out[:, 10, 15], [(2**25 - 1) % 255, (2**15 - 1) % 255, (2**21 - 1) % 255])
    np.testing.assert_array_equal(out[:, 0, 3], [0, 0, 0])
    f = draw_bounding_boxes(_img().float() / 255, rustdl.tensor([[1.0, 1.0, 6.0, 6.0]]), colors="white")
    assert f.dtype == rustdl.float32
    np.testing.assert_allclose(f.numpy()[:, 1, 3], [1.0, 1.0, 1.0])


def test_labels_change_pixels_inside_the_box_only():
    img = rustdl.zeros(3, 40, 60, dtype=rustdl.uint8)
    box = rustdl.tensor([[5.0, 5.0, 55.0, 35.0]])
    plain = draw_bounding_boxes(img, box, colors="white").numpy()
    labelled = draw_bounding_boxes(img, box, labels=["cat"], colors="white").numpy()
    diff = np.argwhere((plain != labelled).any(0))
    assert len(diff) > 5
    assert diff[:, 0].min() >= 5 and diff[:, 1].min() >= 5


def test_box_argument_errors():
    img = _img()
    with pytest.raises(ValueError, match="xmin, ymin, xmax, ymax"):
        draw_bounding_boxes(img, rustdl.tensor([[20.0, 3.0, 2.0, 25.0]]))
    with pytest.raises(ValueError, match="batches"):
        draw_bounding_boxes(img.unsqueeze(0), rustdl.tensor([[2.0, 3.0, 20.0, 25.0]]))
    with pytest.raises(ValueError, match="labels"):
        draw_bounding_boxes(img, rustdl.tensor([[2.0, 3.0, 20.0, 25.0]]), labels=["a", "b"])
    with pytest.raises(ValueError, match="colors"):
        draw_bounding_boxes(img, rustdl.tensor([[2.0, 3.0, 20.0, 25.0]] * 2), colors=["red"])
    with pytest.warns(UserWarning, match="No box"):
        assert draw_bounding_boxes(img, rustdl.zeros(0, 4)) is img


def test_segmentation_masks_blend_and_black_out_overlaps():
    img = _img()
    m = np.zeros((2, 30, 40), dtype=bool)
    m[0, 5:15, 5:20] = True
    m[1, 10:25, 15:35] = True
    out = draw_segmentation_masks(
        img, rustdl.from_numpy(m), alpha=0.4, colors=["blue", (10, 200, 30)]
    ).numpy()
    a = img.numpy().astype(np.float32)
    painted = a.copy()
    painted[:, m[0]] = np.array([0, 0, 255], np.float32)[:, None]
    painted[:, m[1]] = np.array([10, 200, 30], np.float32)[:, None]
    painted[:, m.sum(0) > 1] = 0
    want = (a * 0.6 + painted * 0.4).astype(np.uint8)
    np.testing.assert_array_equal(out, want)
    with pytest.raises(ValueError, match="bool"):
        draw_segmentation_masks(img, rustdl.from_numpy(m.astype(np.float32)))
    with pytest.raises(ValueError, match="same height and width"):
        draw_segmentation_masks(img, rustdl.from_numpy(m[:, :10]))


def test_keypoints_and_connections_respect_visibility():
    img = rustdl.zeros(3, 30, 40, dtype=rustdl.uint8)
    kp = rustdl.tensor([[[5.0, 5.0], [30.0, 5.0], [30.0, 25.0]]])
    vis = rustdl.tensor([[True, True, False]])
    out = draw_keypoints(
        img, kp, connectivity=[(0, 1), (1, 2)], colors="red", radius=2, width=1, visibility=vis
    )
    o = out.numpy()
    np.testing.assert_array_equal(o[:, 3, 5], [255, 0, 0])  # a visible point (lines are drawn over points)
    np.testing.assert_array_equal(o[:, 5, 17], [255, 255, 255])  # on the visible connection (default white)
    assert (o[:, 25, 30] == 0).all() and (o[:, 15, 30] == 0).all()  # invisible point and its connection


def test_weights_meta_counts_the_imagenet_model():
    # parameter counts of the 1000-class models, as published with the weights
    assert models.ResNet18_Weights.DEFAULT.meta["num_params"] == 11689512
    assert models.get_model_weights("googlenet").DEFAULT.meta["num_params"] == 6624904
    assert models.get_model_weights("mobilenet_v2").DEFAULT.meta.get("num_params") == 3504872
