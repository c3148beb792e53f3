"""O fio entre a caixa do estudante e o avaliador (``coursetools.coursework.wire``): valores
como dados, nunca objetos; o que a caixa manda não vira código no avaliador."""

import io
import json
import struct

import pytest
import torch
from torch import nn

from coursetools.coursework import wire
from residuais.checks.avaliador_exemplos import Recorded


def _roundtrip(value, trusted=False, callback=None, on_call=None):
    frame = wire.pack(value, callback)
    skeleton, tensors = wire.read_frame(io.BytesIO(frame))
    return wire.unpack(skeleton, tensors, trusted=trusted, callback=on_call)


def _frame(skeleton) -> bytes:
    header = json.dumps(skeleton).encode()
    return wire.FRAME.pack(len(header), 0) + header


def test_plain_values_survive_the_trip():
    value = {"a": [1, 2.5, None, True, "ç"], ("t", 1): (torch.arange(6).view(2, 3),
                                                         torch.float64)}
    got = _roundtrip(value)
    assert got["a"] == [1, 2.5, None, True, "ç"]
    tensor, dtype = got[("t", 1)]
    assert torch.equal(tensor, torch.arange(6).view(2, 3)) and dtype is torch.float64
    assert type(got[("t", 1)]) is tuple and type(got["a"]) is list


def test_a_tensor_subclass_arrives_as_a_plain_tensor():
    class Liar(torch.Tensor):  # .item() e a comparação mentiriam no avaliador
        @classmethod
        def __torch_function__(cls, func, types, args=(), kwargs=None):
            if func is torch.Tensor.item:
                return 0.0
            return super().__torch_function__(func, types, args, kwargs or {})

    liar = torch.tensor([3.0, 4.0]).as_subclass(Liar)
    got = _roundtrip(liar)
    assert type(got) is torch.Tensor
    assert got.sum().item() == 7.0


def test_modules_are_rebuilt_with_their_state_and_callables_become_callbacks():
    torch.manual_seed(0)
    bn = nn.BatchNorm1d(3).eval()
    bn.running_mean.fill_(0.5)
    recorded = Recorded(lambda h: 2 * h)
    handles: list = []
    got = _roundtrip([bn, recorded], trusted=True, callback=lambda f: handles.append(f) or 0,
                     on_call=lambda h: handles[h])
    rebuilt_bn, rebuilt_recorded = got
    assert type(rebuilt_bn) is nn.BatchNorm1d and not rebuilt_bn.training
    assert torch.equal(rebuilt_bn.running_mean, bn.running_mean)
    x = torch.randn(4, 3)
    assert torch.allclose(rebuilt_bn(x), bn(x))
    assert torch.equal(rebuilt_recorded(x), 2 * x)  # a função voltou ao dono pela chamada de volta
    assert len(rebuilt_recorded.calls) == 1


def test_the_grader_side_never_gets_a_function():
    for skeleton in ({"F": "torch:load"}, {"F": "torch.serialization:save"}, {"C": 0}):
        with pytest.raises(wire.WireError):  # sem chamadas de volta desta chamada: nada
            wire.unpack(skeleton, {}, trusted=False)
    mine = [print]  # o avaliador só recebe de volta o que ele mesmo mandou
    assert wire.unpack({"C": 0}, {}, callback=lambda h: mine[h]) is print


def test_a_returned_module_cannot_shadow_its_methods_or_hold_functions():
    linear = {"M": "torch.nn.modules.linear:Linear", "a": {"in_features": 2, "out_features": 1,
                                                         "training": False,
                                                         "forward": 0}}
    with pytest.raises(wire.WireError):
        wire.unpack(linear, {}, trusted=False)
    fields = dict(linear)
    fields["a"] = {"in_features": 2, "out_features": 1, "training": False,
                   "extra": {"O": "function"}}
    module = wire.unpack(fields, {}, trusted=False)
    assert "extra" not in vars(module)  # um atributo que não é dado não é posto


@pytest.mark.parametrize("path", ["os:system", "builtins:eval", "__main__:Attack",
                                  "torch.nn.modules.linear:Linear.__init__.__globals__",
                                  "torch.nn.modules.module:_global_forward_hooks"])
def test_only_module_classes_of_allowed_packages_are_rebuilt(path):
    with pytest.raises(wire.WireError):
        wire.unpack({"M": path, "a": {}}, {}, trusted=True)


@pytest.mark.parametrize("frame", [
    struct.pack(">IQ", wire.HEADER_LIMIT + 1, 0),
    struct.pack(">IQ", 2, wire.BLOB_LIMIT + 1) + b"{}",
    struct.pack(">IQ", 3, 0) + b"{x}",
    struct.pack(">IQ", 2, 8) + b"{}" + b"notsafet",
    _frame({"d": [[{"l": []}, 1]]}),  # uma lista como chave de dicionário
])
def test_malformed_or_oversized_frames_are_refused(frame):
    with pytest.raises(wire.WireError):
        skeleton, tensors = wire.read_frame(io.BytesIO(frame))
        wire.unpack(skeleton, tensors)


def test_a_deeply_nested_value_is_refused_not_a_crash():
    skeleton = 1
    for _ in range(wire.DEPTH_LIMIT + 5):
        skeleton = {"l": [skeleton]}
    with pytest.raises(wire.WireError):
        wire.unpack(skeleton, {})


def test_any_other_object_arrives_as_an_opaque_name():
    class Whatever:
        pass

    got = _roundtrip([Whatever(), print])
    assert [type(v).__name__ for v in got] == ["Whatever", "builtin_function_or_method"]
    assert all(isinstance(v, wire.Opaque) for v in got)
