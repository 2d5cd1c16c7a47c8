"""In-place shape ops (`unsqueeze_`, `t_`, `resize_`, `set_`, `t.data = other`): the Python object
comes to stand for the reshaped tensor, with PyTorch's rules for autograd; checked against numpy."""

import numpy as np
import pytest
import rustdl
import rustdl.nn as nn


def test_view_ops_in_place_match_numpy(device):
    base = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    x = rustdl.tensor(base, device=device)
    same = x
    x.unsqueeze_(1)
    assert x is same and x.shape == (2, 1, 3, 4)
    np.testing.assert_array_equal(x.cpu().numpy(), base[:, None])
    x.squeeze_(1)
    np.testing.assert_array_equal(x.cpu().numpy(), base)
    x.transpose_(0, 2)
    np.testing.assert_array_equal(x.cpu().numpy(), base.transpose(2, 1, 0))
    x.swapdims_(0, 2).swapaxes_(1, 2)
    np.testing.assert_array_equal(x.cpu().numpy(), base.swapaxes(1, 2))
    m = rustdl.tensor(base[0], device=device)
    m.t_()
    np.testing.assert_array_equal(m.cpu().numpy(), base[0].T)
    x.squeeze_()  # nothing of size 1
    assert x.shape == (2, 4, 3)
    s = rustdl.tensor(np.zeros((1, 3, 1), np.float32), device=device)
    s.squeeze_()
    assert s.shape == (3,)
    e = rustdl.zeros(2, 0, device=device)
    e.unsqueeze_(-1)
    assert e.shape == (2, 0, 1) and e.flatten().shape == (0,)


def test_inplace_view_shares_storage_with_the_rest():
    c = rustdl.zeros(2, 3)
    v = c[0]
    v.unsqueeze_(0)
    v.fill_(2.0)
    assert v.shape == (1, 3)
    np.testing.assert_array_equal(c.numpy(), [[2, 2, 2], [0, 0, 0]])
    d = rustdl.arange(6.0).reshape(2, 3)
    d.t_()
    d[0, 1] = -1.0  # writes through the transposed view
    np.testing.assert_array_equal(d.numpy(), [[0, -1], [1, 4], [2, 5]])


def test_inplace_view_on_graph_tensor_records_history():
    x = rustdl.tensor([1.0, -2.0, 3.0], requires_grad=True)
    y = x * 2
    y.unsqueeze_(0)
    assert y.shape == (1, 3) and y.grad_fn is not None
    (y * rustdl.tensor([[1.0, 10.0, 100.0]])).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 20.0, 200.0])
    z = x.exp()
    v0 = z._version
    z.t_()  # 1-d: the shape stays, but it is an in-place op: the version moves, as PyTorch's
    assert z._version == v0 + 1 and z._base is None
    # exp saved its output, which has now been changed in place: refused, as PyTorch refuses
    with pytest.raises(RuntimeError, match="modified by an inplace operation|in-place"):
        z.sum().backward()


def test_leaf_requiring_grad_refuses_unless_no_grad():
    x = rustdl.randn(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="unsqueeze_.*leaf"):
        x.unsqueeze_(0)
    assert x.shape == (3,)  # unchanged after the refusal
    p = nn.Parameter(rustdl.ones(3))
    p.grad = rustdl.full((3,), 5.0)
    with rustdl.no_grad():
        p.unsqueeze_(0)
    assert isinstance(p, nn.Parameter) and p.shape == (1, 3) and p.is_leaf and p.requires_grad
    assert p.grad is None  # the old (3,) gradient no longer fits
    (p * 3).sum().backward()
    np.testing.assert_array_equal(p.grad.numpy(), [[3.0, 3.0, 3.0]])
    with rustdl.no_grad():
        p.transpose_(0, 1)  # the (1, 3) gradient does not fit (3, 1) either
    assert p.grad is None and p.shape == (3, 1)


def test_parameter_reshaped_in_place_is_trained_by_its_optimizer():
    lin = nn.Linear(4, 1, bias=False)
    opt = rustdl.optim.SGD(lin.parameters(), lr=0.5)
    with rustdl.no_grad():
        lin.weight.t_()  # (1, 4) -> (4, 1), the same storage
    w0 = lin.weight.detach().numpy().copy()
    x = rustdl.ones(2, 4)
    (x @ lin.weight).sum().backward()
    opt.step()
    np.testing.assert_allclose(lin.weight.detach().numpy(), w0 - 0.5 * 2.0, rtol=1e-6)


def test_resize_keeps_elements_in_order():
    b = rustdl.arange(6.0)
    assert b.resize_(2, 3) is b
    np.testing.assert_array_equal(b.numpy(), np.arange(6.0).reshape(2, 3))
    b.resize_(4)  # shrinking keeps the first elements
    np.testing.assert_array_equal(b.numpy(), [0.0, 1.0, 2.0, 3.0])
    b.resize_((2, 3))  # growing within the storage: its elements, as PyTorch
    np.testing.assert_array_equal(b.numpy(), [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]])
    b.resize_(8)  # growing past the storage: the old elements first, then zeros
    np.testing.assert_array_equal(b.numpy(), [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 0.0, 0.0])
    b.resize_as_(rustdl.zeros(3, 2))
    assert b.shape == (3, 2)
    t = rustdl.arange(6.0).reshape(2, 3).t()  # a non-contiguous source: storage order
    t.resize_(6)
    np.testing.assert_array_equal(t.numpy(), [0.0, 1.0, 2.0, 3.0, 4.0, 5.0])
    i = rustdl.tensor([1, 2, 3])
    i.resize_(0)
    assert i.shape == (0,) and i.dtype == rustdl.int64
    i.resize_(2, 0, 3)
    assert i.shape == (2, 0, 3)


def test_resize_refusals():
    with pytest.raises(RuntimeError, match="resize_.*requires grad"):
        rustdl.zeros(3, requires_grad=True).resize_(4)
    with pytest.raises(RuntimeError, match="resize_.*negative"):
        rustdl.zeros(3).resize_(-1)
    with pytest.raises(TypeError, match="resize_"):
        rustdl.zeros(3).resize_(2.5)
    with pytest.raises(MemoryError, match="resize_"):
        rustdl.zeros(3).resize_(2**31, 2**31)
    x = rustdl.zeros(3)
    with pytest.raises(TypeError, match="resize_as_"):
        x.resize_as_([1, 2])
    assert x.shape == (3,)


def test_set_shares_the_source():
    s = rustdl.zeros(5)
    src = rustdl.arange(4.0)
    s.set_(src)
    src.mul_(2.0)
    np.testing.assert_array_equal(s.numpy(), [0.0, 2.0, 4.0, 6.0])
    s.set_(src, 1, (2,), (2,))
    np.testing.assert_array_equal(s.numpy(), [2.0, 6.0])
    s.set_()
    assert s.shape == (0,)
    with pytest.raises(RuntimeError, match="set_.*dtype"):
        s.set_(rustdl.tensor([1, 2]))
    with pytest.raises(TypeError, match="set_"):
        s.set_([1.0])


def test_data_assignment_with_a_new_shape():
    lin = nn.Linear(3, 2)
    w = lin.weight
    lin.weight.data = rustdl.ones(4, 3)
    assert lin.weight is w and w.shape == (4, 3) and w.requires_grad and w.is_leaf
    assert lin.state_dict()["weight"].shape == (4, 3)
    out = lin.weight.sum() * 2
    out.backward()
    np.testing.assert_array_equal(w.grad.numpy(), np.full((4, 3), 2.0))
    # a view (not owning its storage) takes the new data too
    big = rustdl.zeros(4, 4)
    v = big[1:3]
    v.data = rustdl.ones(2, 4)
    assert v.sum().item() == 8.0 and big.sum().item() == 0.0


def test_as_strided_in_place():
    a = rustdl.arange(6.0)
    a.as_strided_((2, 2), (1, 2))
    np.testing.assert_array_equal(a.numpy(), [[0.0, 2.0], [1.0, 3.0]])
    b = rustdl.arange(6.0)
    b.as_strided_((2,), (1,), 4)
    np.testing.assert_array_equal(b.numpy(), [4.0, 5.0])
    with pytest.raises(IndexError, match="as_strided"):
        rustdl.zeros(3).as_strided_((5,), (1,))


# ---- hostile inputs (regressions) ----


def test_hash_survives_an_in_place_shape_change():
    # a tensor is a dict key (optimizer state, hook tables): its hash must not follow the
    # core tensor the object stands for
    p = nn.Parameter(rustdl.ones(2, 3))
    h = hash(p)
    table = {p: "state"}
    with rustdl.no_grad():
        p.t_()
    assert hash(p) == h and table[p] == "state"
    p.data = rustdl.ones(5)
    assert hash(p) == h and p in table


def test_optimizer_state_follows_a_parameter_through_t_():
    # Adam on a square weight, transposed in place between steps: the moments carry on (they
    # were silently reset when the state was keyed by the replaced core tensor)
    w0 = np.array([[1.0, 2.0], [3.0, 4.0]], np.float32)
    p = nn.Parameter(rustdl.tensor(w0))
    opt = rustdl.optim.SGD([p], lr=0.1, momentum=0.5)
    p.grad = rustdl.ones(2, 2)
    opt.step()
    with rustdl.no_grad():
        p.t_()
    p.grad = rustdl.ones(2, 2)
    opt.step()
    # momentum buffer: 1, then 0.5 * 1 + 1 = 1.5; total step 0.1 * (1 + 1.5)
    np.testing.assert_allclose(p.detach().numpy(), w0.T - 0.25, rtol=1e-6)
    assert len(opt.state) == 1


def test_optimizer_state_of_another_shape_is_refused():
    for make in (
        lambda ps: rustdl.optim.SGD(ps, lr=0.1, momentum=0.9),
        lambda ps: rustdl.optim.Adam(ps, lr=0.1),
        lambda ps: rustdl.optim.RMSprop(ps, lr=0.1),
        lambda ps: rustdl.optim.Adagrad(ps, lr=0.1),
    ):
        p = nn.Parameter(rustdl.ones(2, 3))
        opt = make([p])
        p.grad = rustdl.ones(2, 3)
        opt.step()
        p.data = rustdl.ones(4)
        p.grad = rustdl.ones(4)
        with pytest.raises(RuntimeError, match="shape"):
            opt.step()
        np.testing.assert_array_equal(p.detach().numpy(), np.ones(4, np.float32))


@pytest.mark.parametrize(
    "change,grad_shape",
    [
        (lambda a: a.unsqueeze_(0), (1, 3)),
        (lambda a: a.t_(), (3,)),
        (lambda a: (a.unsqueeze_(0), a.squeeze_(0)), (3,)),
        (lambda a: a.squeeze_(), (3,)),
    ],
)
def test_backward_into_a_leaf_reshaped_since_the_forward_reaches_it(change, grad_shape):
    # the leaf keeps its identity through in-place shape changes (PyTorch's): a graph built
    # before sends its gradient to the leaf's .grad, reshaped when only dims of 1 changed
    for use_grad in (False, True):
        a = rustdl.tensor([1.0, 2.0, 3.0], requires_grad=True)
        b = (a * 2.0).sum()
        with rustdl.no_grad():
            change(a)
        loss = b + (a * a).sum()  # d/da: 2 + 2a
        want = (2.0 + 2.0 * np.array([1.0, 2.0, 3.0])).reshape(grad_shape)
        if use_grad:
            (g,) = rustdl.autograd.grad(loss, [a])
        else:
            loss.backward()
            g = a.grad
        assert tuple(g.shape) == grad_shape
        np.testing.assert_allclose(g.numpy(), want)


@pytest.mark.parametrize("change", [lambda a: a.set_(rustdl.ones(4)), lambda a: a.as_strided_((1,), (1,))])
def test_backward_into_a_leaf_given_another_size_since_the_forward_is_refused(change):
    # a gradient of 3 elements cannot become the .grad of a leaf that now holds 4 (or 1)
    a = rustdl.zeros(3, requires_grad=True)
    b = (a * 2.0).sum()
    with rustdl.no_grad():
        change(a)
    with pytest.raises(RuntimeError, match="changed in place since the graph was built"):
        b.backward()
    assert a.grad is None


def test_backward_after_data_assignment_with_a_new_shape_is_refused():
    a = rustdl.zeros(3, requires_grad=True)
    b = (a * a).sum()
    a.data = rustdl.ones(5)
    with pytest.raises(RuntimeError, match="changed in place since the graph was built"):
        b.backward()
    # a fresh forward pass works
    (a * a).sum().backward()
    np.testing.assert_array_equal(a.grad.numpy(), np.full(5, 2.0, np.float32))


def test_data_assignment_refusals_leave_the_tensor_as_it_was():
    a = rustdl.zeros(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="floating point"):
        a.data = rustdl.ones(3, dtype=rustdl.int64)
    with pytest.raises(TypeError):
        a.data = 5
    assert a.dtype == rustdl.float32 and a.shape == (3,) and a.requires_grad


def test_resize_and_set_argument_refusals():
    x = rustdl.arange(6.0)
    with pytest.raises(TypeError, match="resize_"):
        x.resize_()
    with pytest.raises(TypeError, match="resize_"):
        x.resize_(2**70)
    with pytest.raises(RuntimeError, match="resize_.*overflows"):
        x.resize_(2**32, 2**32)
    with pytest.raises(TypeError, match="set_"):
        x.set_(rustdl.ones(4), 1)  # an offset needs a size
    with pytest.raises(TypeError, match="set_"):
        x.set_(rustdl.ones(4), size=(2,))
    with pytest.raises(IndexError):
        x.set_(rustdl.arange(6.0), 0, (4, 4))
    np.testing.assert_array_equal(x.numpy(), np.arange(6, dtype=np.float32))
    x.set_(rustdl.arange(6.0), 1, (2, 2))
    np.testing.assert_array_equal(x.numpy(), [[1.0, 2.0], [3.0, 4.0]])


def test_as_strided_hostile_sizes_fail_before_allocating():
    x = rustdl.arange(6.0)
    with pytest.raises(IndexError, match="as_strided"):
        x.as_strided_((2**40,), (1,))  # was numpy's "Unable to allocate 8 TiB"
    with pytest.raises(MemoryError, match="as_strided"):
        x.as_strided_((2**20, 2**20), (0, 0))  # in bounds, but 2**40 elements
    with pytest.raises(TypeError, match="as_strided"):
        x.as_strided_((2.0,), (1,))
    with pytest.raises(TypeError, match="as_strided"):
        x.as_strided_(None, (1,))
    np.testing.assert_array_equal(x.numpy(), np.arange(6, dtype=np.float32))
    assert x.as_strided_((0, 5), (100, 100)).shape == (0, 5)


def test_hooks_and_retain_grad_stay_with_the_object():
    # a leaf's gradient hooks were left on the replaced tensor and never called again
    calls = []
    a = rustdl.ones(3, requires_grad=True)
    a.register_hook(lambda g: calls.append(tuple(g.shape)))
    post = []
    a.register_post_accumulate_grad_hook(lambda t: post.append(tuple(t.shape)))
    with rustdl.no_grad():
        a.unsqueeze_(0)
    (a * 2.0).sum().backward()
    assert calls == [(1, 3)] and post == [(1, 3)]
    np.testing.assert_array_equal(a.grad.numpy(), np.full((1, 3), 2.0, np.float32))
    # the handle still removes it
    h = a.register_hook(lambda g: g * 10.0)
    a.data = rustdl.ones(2)
    a.grad = None
    (a * 1.0).sum().backward()
    np.testing.assert_array_equal(a.grad.numpy(), [10.0, 10.0])
    h.remove()
    a.grad = None
    (a * 1.0).sum().backward()
    np.testing.assert_array_equal(a.grad.numpy(), [1.0, 1.0])
    # retain_grad() of a non-leaf carries over to its reshaped self
    x = rustdl.ones(3, requires_grad=True)
    b = x * 2.0
    b.retain_grad()
    b.unsqueeze_(0)
    (b * 3.0).sum().backward()
    np.testing.assert_array_equal(b.grad.numpy(), np.full((1, 3), 3.0, np.float32))


def test_storage_offset_and_as_strided_read_the_storage_as_pytorch():
    from numpy.lib.stride_tricks import as_strided as np_as_strided

    base = np.arange(12, dtype=np.float32)
    a = rustdl.tensor(base)
    b = a[2:]
    assert b.storage_offset() == 2  # was always 0
    assert a.view(3, 4)[1].storage_offset() == 4

    def ref(size, stride, offset):
        return np_as_strided(base[offset:], size, [st * 4 for st in stride])

    # the default offset is the tensor's own; an explicit one counts from the storage start
    np.testing.assert_array_equal(b.as_strided((2, 2), (1, 1)).numpy(), ref((2, 2), (1, 1), 2))
    np.testing.assert_array_equal(b.as_strided((3,), (2,), 4).numpy(), ref((3,), (2,), 4))
    # storage outside the view is readable without gradient, as PyTorch
    np.testing.assert_array_equal(b.as_strided((2,), (1,), 0).numpy(), [0.0, 1.0])
    with pytest.raises(IndexError, match="as_strided.*gradient"):
        b.detach().requires_grad_().as_strided((2,), (1,), 0)
    with pytest.raises(IndexError, match="as_strided"):
        b.as_strided((2,), (1,), 11)  # past the storage
    # a transposed view: as_strided(size(), stride()) is the tensor itself (was scrambled)
    t = a.view(3, 4).t()
    np.testing.assert_array_equal(t.as_strided(t.shape, t.stride()).numpy(), base.reshape(3, 4).T)
    np.testing.assert_array_equal(t.as_strided((2, 3), (3, 1), 0).numpy(), ref((2, 3), (3, 1), 0))
    # differentiable: the gradient lands on the elements read
    x = rustdl.arange(6.0).view(2, 3).t().detach().requires_grad_()
    x.as_strided((2,), (1,), 0).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[1, 0], [1, 0], [0, 0]])


def test_resize_of_a_non_contiguous_tensor_reads_the_storage_in_order():
    # as PyTorch: the storage from the tensor's offset on, C-contiguous, ignoring the strides
    t = rustdl.arange(6.0).view(2, 3).t()
    t.resize_(6)
    np.testing.assert_array_equal(t.numpy(), np.arange(6, dtype=np.float32))
    t = rustdl.arange(6.0).view(2, 3).t()
    t.resize_(2, 2)
    np.testing.assert_array_equal(t.numpy(), [[0.0, 1.0], [2.0, 3.0]])
    s = rustdl.arange(6.0)[::2]
    s.resize_(3)
    np.testing.assert_array_equal(s.numpy(), [0.0, 2.0, 4.0])  # same size: unchanged
    s.resize_(5)
    np.testing.assert_array_equal(s.numpy(), [0.0, 1.0, 2.0, 3.0, 4.0])
    # the result shares the storage, as PyTorch's
    base = rustdl.arange(6.0)
    v = base[1:]
    v.resize_(2, 2)
    v.mul_(10.0)
    np.testing.assert_array_equal(base.numpy(), [0.0, 10.0, 20.0, 30.0, 40.0, 5.0])


def test_set_with_a_contiguous_window_shares_the_storage():
    src = rustdl.arange(8.0)
    s = rustdl.zeros(1)
    s.set_(src[1:], 2, (2, 2))  # the offset counts from the source's first element, as PyTorch
    assert s.storage_offset() == 3
    np.testing.assert_array_equal(s.numpy(), [[3.0, 4.0], [5.0, 6.0]])
    s.mul_(10.0)
    np.testing.assert_array_equal(src.numpy(), [0.0, 1.0, 2.0, 30.0, 40.0, 50.0, 60.0, 7.0])
    with pytest.raises(IndexError):
        s.set_(src, 6, (3,))


def test_as_strided_function_form():
    x = rustdl.arange(6.0)
    np.testing.assert_array_equal(rustdl.as_strided(x, (2, 2), (1, 2)).numpy(), [[0.0, 2.0], [1.0, 3.0]])
    np.testing.assert_array_equal(rustdl.as_strided(x, (2,), (1,), 3).numpy(), [3.0, 4.0])
