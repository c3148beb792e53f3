"""Testes das redes de residuais.models."""

import itertools
import math

import pytest
import torch
from torch import nn

from residuais import norm
from residuais.models import (
    BLOCK_ORDERS,
    BasicBlock,
    Bottleneck,
    ConvNet,
    DenseBlock,
    PlainMLP,
    ResidualBlock,
    ResidualMLP,
    ResNet,
    UNet,
    center_crop,
    count_parameters,
    densenet121,
    he_init_,
    linear_layers,
    resnet,
    vgg16,
)


def test_plain_mlp_shapes_and_depth():
    model = PlainMLP(d_in=40, width=32, depth=5, d_out=10, batch_norm=True)
    assert model(torch.randn(8, 40)).shape == (8, 10)
    assert len(linear_layers(model)) == 5 + 1  # camadas ocultas + saída
    assert sum(isinstance(m, nn.BatchNorm1d) for m in model.modules()) == 5


def test_residual_mlp_shapes_and_blocks():
    model = ResidualMLP(d_in=40, width=32, n_blocks=4, d_out=10, layers_per_block=2)
    assert model(torch.randn(8, 40)).shape == (8, 10)
    assert len(model.blocks) == 4
    assert len(linear_layers(model)) == 1 + 4 * 2 + 1  # entrada + ramos + saída


@pytest.mark.parametrize("order, after_sum", [("pre", nn.Identity()), ("post", nn.ReLU())])
def test_residual_block_is_identity_plus_branch(order, after_sum):
    torch.manual_seed(0)
    block = ResidualBlock(16, n_layers=2, order=order).eval()
    h = torch.randn(4, 16)
    torch.testing.assert_close(block(h), after_sum(h + block.branch(h)))


def test_preactivation_branch_order_is_bn_relu_linear():
    block = ResidualBlock(8, n_layers=1, order="pre")
    kinds = [type(m) for m in block.branch]
    assert kinds == [nn.BatchNorm1d, nn.ReLU, nn.Linear]


def test_preactivation_head_normalizes_the_stream_before_relu_and_linear():
    """A soma do último bloco de pré-ativação ainda não passou por BN: a saída é
    linear(ReLU(BN(h))), e em modo de treino BN(h) é (h − μ)/√(σ² + ε) com as estatísticas do
    lote (γ = 1, β = 0 no início)."""
    torch.manual_seed(0)
    model = ResidualMLP(5, 8, 2, 3).train()
    x = torch.randn(16, 5)
    h = model.stem(x)
    for block in model.blocks:
        h = block(h)
    normalized = (h - h.mean(0)) / torch.sqrt(h.var(0, unbiased=False) + 1e-5)
    torch.testing.assert_close(model(x), model.head[-1](torch.relu(normalized)))
    plain_head = ResidualMLP(5, 8, 2, 3, batch_norm=False)
    assert [type(m) for m in plain_head.head] == [nn.Identity, nn.ReLU, nn.Linear]
    assert isinstance(ResidualMLP(5, 8, 2, 3, order="post").head, nn.Linear)


@pytest.mark.parametrize("order", BLOCK_ORDERS)
@pytest.mark.parametrize("n_layers", [2, 3])
def test_zero_init_last_zeroes_only_the_last_linear_of_the_branch(order, n_layers):
    """Com vieses da inicialização do PyTorch (``init_scale=None``), zerar a última linear deixa
    o bloco na identidade; zerar outra deixaria o viés da última somado ao fluxo."""
    torch.manual_seed(0)
    block = ResidualBlock(8, n_layers=n_layers, order=order, batch_norm=False, init_scale=None,
                          zero_init_last=True)
    *earlier, last = linear_layers(block.branch)
    assert len(earlier) == n_layers - 1
    assert torch.count_nonzero(last.weight) == 0 and torch.count_nonzero(last.bias) == 0
    assert all(torch.count_nonzero(layer.weight) == layer.weight.numel() for layer in earlier)
    assert all(torch.count_nonzero(layer.bias) > 0 for layer in earlier)
    h = torch.randn(4, 8)
    after_sum = torch.relu if order == "post" else (lambda t: t)
    torch.testing.assert_close(block(h), after_sum(h))


def test_flags_are_keyword_only_and_norm_layer_reaches_every_bn():
    with pytest.raises(TypeError):
        ResidualBlock(8, 2)  # n_layers só por nome
    with pytest.raises(TypeError):
        ResidualMLP(5, 8, 2, 3, False)  # batch_norm só por nome
    with pytest.raises(TypeError):
        PlainMLP(5, 8, 2, 3, True)
    course = ResidualMLP(5, 8, 3, 2, layers_per_block=2, norm_layer=norm.BatchNorm1d)
    assert sum(isinstance(m, norm.BatchNorm1d) for m in course.modules()) == 3 * 2 + 1
    assert not any(isinstance(m, nn.BatchNorm1d) for m in course.modules())
    plain = PlainMLP(5, 8, 3, 2, batch_norm=True, norm_layer=norm.BatchNorm1d)
    assert sum(isinstance(m, norm.BatchNorm1d) for m in plain.modules()) == 3
    assert not any(isinstance(m, norm.BatchNorm) for m in
                   PlainMLP(5, 8, 3, 2, norm_layer=norm.BatchNorm1d).modules())


def test_zero_branch_gives_identity():
    block = ResidualBlock(8, batch_norm=False)
    for layer in linear_layers(block):
        nn.init.zeros_(layer.weight)
        nn.init.zeros_(layer.bias)
    h = torch.randn(3, 8)
    torch.testing.assert_close(block(h), h)


@pytest.mark.parametrize(
    "model, x",
    [
        (PlainMLP(40, 16, 2, 10), torch.randn(5, 39)),
        (ResidualMLP(40, 16, 2, 10), torch.randn(40)),
        (ResidualBlock(16), torch.randn(5, 15)),
    ],
)
def test_wrong_input_shape_gives_portuguese_error(model, x):
    with pytest.raises(ValueError, match="esperava entrada de forma"):
        model(x)


def test_bad_arguments_are_rejected():
    with pytest.raises(ValueError, match="inteiro positivo"):
        PlainMLP(40, 16, 0, 10)
    with pytest.raises(ValueError, match="order deve ser"):
        ResidualBlock(8, order="meio")
    with pytest.raises(TypeError, match=r"torch\.Tensor"):
        PlainMLP(4, 4, 1, 1)([[1.0, 2.0, 3.0, 4.0]])


def test_he_init_standard_deviation():
    torch.manual_seed(0)
    layer = nn.Linear(500, 400)
    he_init_(layer)
    std = layer.weight.std().item()
    assert abs(std - math.sqrt(2 / 500)) < 0.02 * math.sqrt(2 / 500)
    assert torch.count_nonzero(layer.bias) == 0
    he_init_(layer, scale=0.5)
    assert abs(layer.weight.std().item() - 0.5 * math.sqrt(2 / 500)) < 0.01 * math.sqrt(2 / 500)


def test_he_init_preserves_second_moment_in_plain_relu_net():
    """E[h²] fica constante com He (fator 1 por camada) e encolhe com escala 0,5 (fator 1/4)."""
    torch.manual_seed(0)
    x = torch.randn(2000, 100)
    for scale, factor in [(1.0, 1.0), (0.5, 0.25)]:
        model = PlainMLP(100, 100, 10, 1, init_scale=scale)
        h, second_moments = x, []
        for layer in model.hidden:
            h = layer(h)
            second_moments.append(h.pow(2).mean().item())
        ratios = [b / a for a, b in itertools.pairwise(second_moments)]
        mean_ratio = sum(ratios) / len(ratios)
        assert abs(mean_ratio - factor) < 0.15 * factor


def test_vgg16_matches_torchvision_parameter_count():
    # torchvision, models/vgg.py, VGG16_Weights.IMAGENET1K_V1: num_params = 138357544
    with torch.device("meta"):
        model = vgg16()
    assert count_parameters(model) == 138_357_544
    weight_layers = [m for m in model.modules() if isinstance(m, nn.Conv2d | nn.Linear)]
    assert len(weight_layers) == 16


def test_vgg16_forward_shape_small_batch():
    with torch.device("meta"):
        out = vgg16(num_classes=7)(torch.empty(2, 3, 224, 224))
    assert out.shape == (2, 7)


def test_relu_last_block_only_adds_non_negative_values():
    torch.manual_seed(0)
    block = ResidualBlock(16, order="relu_last").train()
    h = torch.randn(32, 16)
    assert (block(h) - h).min() >= 0
    pre = ResidualBlock(16, order="pre").train()
    assert (pre(h) - h).min() < 0


@pytest.mark.parametrize(
    "in_channels, out_channels, stride, has_projection, out_shape",
    [(64, 64, 1, False, (2, 64, 8, 8)), (64, 128, 2, True, (2, 128, 4, 4)),
     (32, 64, 1, True, (2, 64, 8, 8)), (64, 64, 2, True, (2, 64, 4, 4))],
)
def test_basic_block_projection_only_when_shape_changes(
    in_channels, out_channels, stride, has_projection, out_shape
):
    block = BasicBlock(in_channels, out_channels, stride)
    assert (block.downsample is not None) == has_projection
    assert block(torch.randn(2, in_channels, 8, 8)).shape == out_shape


def test_basic_block_matches_its_equation():
    torch.manual_seed(0)
    block = BasicBlock(8, 16, stride=2).eval()
    x = torch.randn(2, 8, 6, 6)
    branch = block.bn2(block.conv2(torch.relu(block.bn1(block.conv1(x)))))
    torch.testing.assert_close(block(x), torch.relu(branch + block.downsample(x)))
    with pytest.raises(ValueError, match=r"\(B, C, H, W\) com C = 8, isto é, \(B, 8, H, W\)"):
        block(torch.randn(2, 7, 6, 6))


def _branch_outputs_constant(block: BasicBlock, value: float) -> None:
    """γ = 0 e β = ``value`` no último BN: o ramo F(x) vale ``value`` em toda parte."""
    with torch.no_grad():
        block.bn2.weight.zero_()
        block.bn2.bias.fill_(value)


def test_basic_block_without_residual_has_no_shortcut():
    """Com ``residual=False`` a saída é ReLU(F(x)): nada de x é somado."""
    torch.manual_seed(0)
    x = torch.randn(2, 8, 6, 6)
    residual, plain = BasicBlock(8, 8).eval(), BasicBlock(8, 8, residual=False).eval()
    plain.load_state_dict(residual.state_dict())  # os mesmos pesos: só o atalho difere
    branch = plain.bn2(plain.conv2(torch.relu(plain.bn1(plain.conv1(x)))))
    torch.testing.assert_close(plain(x), torch.relu(branch))
    torch.testing.assert_close(residual(x), torch.relu(branch + x))
    _branch_outputs_constant(residual, 0.5)
    _branch_outputs_constant(plain, 0.5)
    torch.testing.assert_close(residual(x), torch.relu(x + 0.5))
    torch.testing.assert_close(plain(x), torch.full_like(x, 0.5))
    assert BasicBlock(8, 16, stride=2, residual=False).downsample is None


def test_convnet_residual_flag_reaches_every_block():
    """Com o ramo constante (F = 0,5), cada bloco residual soma 0,5 à sua entrada (que é ≥ 0) e
    cada bloco sem atalho devolve só 0,5."""
    torch.manual_seed(0)
    x = torch.randn(3, 1, 8, 8)
    residual, plain = ConvNet(2, 8).eval(), ConvNet(2, 8, residual=False).eval()
    plain.load_state_dict(residual.state_dict())
    for block in [*residual.blocks, *plain.blocks]:
        _branch_outputs_constant(block, 0.5)
    stem = residual.stem(x)  # (B, 8, 8, 8), não negativa: termina numa ReLU
    torch.testing.assert_close(residual.blocks(stem), stem + 2 * 0.5)
    torch.testing.assert_close(plain.blocks(stem), torch.full_like(stem, 0.5))
    torch.testing.assert_close(residual(x), residual.head(stem + 1.0))
    torch.testing.assert_close(plain(x), plain.head(torch.full_like(stem, 0.5)))


# torchvision 0.29, models/resnet.py e densenet.py: num_params dos pesos IMAGENET1K_V1;
# ResNet-200 (camadas 3, 24, 36, 3): a contagem da coleção imgclsmob (osmr), 64.673.832.
STANDARD_COUNTS = {18: 11_689_512, 34: 21_797_672, 50: 25_557_032, 101: 44_549_160,
                   152: 60_192_808, 200: 64_673_832}


@pytest.mark.parametrize("depth, expected", STANDARD_COUNTS.items())
def test_resnet_parameter_counts_match_standard_models(depth, expected):
    with torch.device("meta"):
        model = resnet(depth)
    assert count_parameters(model) == expected


def test_resnet_shapes_and_zero_init():
    with torch.device("meta"):
        model = resnet(50)
        x = torch.empty(2, 3, 224, 224)
        shapes = []
        for _, stage in model.stages():
            x = stage(x)
            shapes.append(tuple(x.shape))
    assert shapes[2:6] == [(2, 256, 56, 56), (2, 512, 28, 28), (2, 1024, 14, 14), (2, 2048, 7, 7)]
    assert shapes[-1] == (2, 1000)
    zero = resnet(18, zero_init_residual=True, num_classes=3)
    assert all(torch.count_nonzero(b.bn2.weight) == 0 for b in zero.layer1)
    with pytest.raises(ValueError, match="Profundidades"):
        resnet(20)


@pytest.mark.parametrize("block, last", [(BasicBlock, "bn2"), (Bottleneck, "bn3")])
def test_zero_init_residual_zeroes_only_the_last_bn_of_each_block(block, last):
    torch.manual_seed(0)
    model = ResNet(block, (2, 1, 1, 1), num_classes=3, zero_init_residual=True)
    blocks = [b for b in model.modules() if isinstance(b, block)]
    assert len(blocks) == 5
    for b in blocks:
        for name, module in b.named_modules():
            if isinstance(module, nn.BatchNorm2d):
                assert (torch.count_nonzero(module.weight) == 0) == (name == last), name
    x = torch.relu(torch.randn(2, 64 * block.expansion, 6, 6))
    torch.testing.assert_close(model.layer1[1].eval()(x), x)  # o bloco começa na identidade


def test_resnet_stages_reuse_its_modules_and_compose_to_forward():
    torch.manual_seed(0)
    model = resnet(18, num_classes=5).eval()
    stages = model.stages()
    own = list(model.modules())
    assert all(not isinstance(s, nn.Module) or any(s is m for m in own) for _, s in stages)
    assert dict(stages)["layer1"] is model.layer1
    x = torch.randn(2, 3, 32, 32)
    h = x
    for _, stage in stages:
        h = stage(h)
    torch.testing.assert_close(h, model(x))


def test_bottleneck_matches_its_equation():
    torch.manual_seed(0)
    block = Bottleneck(16, 8, stride=2).eval()
    x = torch.randn(1, 16, 8, 8)
    out = torch.relu(block.bn1(block.conv1(x)))
    out = torch.relu(block.bn2(block.conv2(out)))
    out = block.bn3(block.conv3(out))
    torch.testing.assert_close(block(x), torch.relu(out + block.downsample(x)))
    assert block(x).shape == (1, 32, 4, 4)


@pytest.mark.parametrize("in_channels, planes, stride, has_projection, out_shape", [
    (32, 8, 1, False, (2, 32, 8, 8)), (32, 8, 2, True, (2, 32, 4, 4)),
    (16, 8, 1, True, (2, 32, 8, 8))])
def test_bottleneck_projection_when_channels_or_resolution_change(
    in_channels, planes, stride, has_projection, out_shape
):
    """Só o passo (32 → 4·8 = 32 canais, passo 2) também pede a projeção: sem ela, a soma
    juntaria 8×8 com 4×4."""
    block = Bottleneck(in_channels, planes, stride)
    assert (block.downsample is not None) == has_projection
    assert block(torch.randn(2, in_channels, 8, 8)).shape == out_shape


def _copy_weights(source: nn.Module, target: nn.Module) -> None:
    """Os pesos e estatísticas de ``source`` em ``target``; só o contador de lotes do BN do
    PyTorch (``num_batches_tracked``) não tem par na BN do curso."""
    result = target.load_state_dict(source.state_dict(), strict=False)
    assert not result.missing_keys
    assert {key.rsplit(".", 1)[-1] for key in result.unexpected_keys} == {"num_batches_tracked"}


def test_resnet_with_the_course_batch_norm_equals_the_pytorch_one():
    """``norm_layer`` como no torchvision: a BN escrita do zero (``residuais.norm``) dentro da
    ResNet-18 dá a saída, os gradientes e as médias móveis da ``nn.BatchNorm2d``."""
    torch.manual_seed(0)
    reference = resnet(18, num_classes=5)
    course = resnet(18, num_classes=5, norm_layer=norm.BatchNorm2d)
    assert sum(isinstance(m, norm.BatchNorm2d) for m in course.modules()) == 20  # 1 + 8·2 + 3
    assert not any(isinstance(m, nn.BatchNorm2d) for m in course.modules())
    _copy_weights(reference, course)
    reference, course = reference.double(), course.double()  # 20 BNs em série: sem float32
    x = torch.randn(4, 3, 32, 32, dtype=torch.float64)
    out_ref, out_course = reference(x), course(x)  # modo de treino: estatísticas do lote
    torch.testing.assert_close(out_course, out_ref)
    out_ref.square().sum().backward()
    out_course.square().sum().backward()
    torch.testing.assert_close(course.conv1.weight.grad, reference.conv1.weight.grad)
    torch.testing.assert_close(course.layer4[1].bn2.weight.grad,
                               reference.layer4[1].bn2.weight.grad)
    torch.testing.assert_close(course.layer2[0].downsample[1].running_var,
                               reference.layer2[0].downsample[1].running_var)
    with torch.no_grad():  # modo de avaliação: as médias móveis que o passo acima atualizou
        torch.testing.assert_close(course.eval()(x), reference.eval()(x))


def test_norm_layer_reaches_every_block_and_zero_init_needs_a_gamma():
    block = Bottleneck(8, 2, stride=2, norm_layer=norm.BatchNorm2d)
    kinds = {type(m) for m in block.modules()} - {Bottleneck, nn.Conv2d, nn.ReLU, nn.Sequential}
    assert kinds == {norm.BatchNorm2d}
    convnet = ConvNet(2, 4, norm_layer=norm.BatchNorm2d)
    assert sum(isinstance(m, norm.BatchNorm2d) for m in convnet.modules()) == 1 + 2 * 2
    zero = resnet(18, num_classes=3, zero_init_residual=True, norm_layer=norm.BatchNorm2d)
    assert all(torch.count_nonzero(b.bn2.weight) == 0 for b in zero.layer4)
    with pytest.raises(ValueError, match="não tem γ"):
        resnet(18, zero_init_residual=True, norm_layer=lambda c: nn.Identity())
    with pytest.raises(TypeError):
        BasicBlock(4, 4, 1, False)  # residual só por nome


def test_densenet121_count_and_channel_growth():
    with torch.device("meta"):
        model = densenet121()
        assert count_parameters(model) == 7_978_856  # torchvision, DenseNet121_Weights
        assert model(torch.empty(1, 3, 224, 224)).shape == (1, 1000)
    block = DenseBlock(n_layers=3, in_channels=5, growth_rate=4)
    out = block(torch.randn(2, 5, 6, 6))
    assert out.shape == (2, 5 + 3 * 4, 6, 6) and block.out_channels == 17


def test_unet_original_shapes_and_variants():
    with torch.device("meta"):
        original = UNet()
        assert original(torch.empty(1, 1, 572, 572)).shape == (1, 2, 388, 388)
    small = UNet(1, 2, base_channels=4, depth=2, padding=1, batch_norm=True)
    assert small(torch.randn(2, 1, 16, 16)).shape == (2, 2, 16, 16)
    no_skip = UNet(1, 2, base_channels=4, depth=2, padding=1, skips=False)
    assert no_skip(torch.randn(2, 1, 16, 16)).shape == (2, 2, 16, 16)
    assert count_parameters(no_skip) < count_parameters(UNet(1, 2, 4, 2, padding=1))


def test_center_crop():
    x = torch.arange(36.0).view(1, 1, 6, 6)
    torch.testing.assert_close(center_crop(x, 2, 2), torch.tensor([[[[14.0, 15.0], [20.0, 21.0]]]]))
    with pytest.raises(ValueError, match="maior"):
        center_crop(x, 7, 2)


def test_center_crop_of_an_odd_difference_leaves_the_extra_row_below_and_column_right():
    """9×6 → 4×3: sobram 5 linhas (2 em cima, 3 embaixo) e 3 colunas (1 à esquerda, 2 à
    direita), como no exercício 2 do capítulo 5; margens diferentes pegam a troca de eixos."""
    x = torch.arange(54.0).view(1, 1, 9, 6)  # o valor em (linha r, coluna c) é 6r + c
    expected = torch.tensor([[13.0, 14.0, 15.0], [19.0, 20.0, 21.0], [25.0, 26.0, 27.0],
                             [31.0, 32.0, 33.0]])
    torch.testing.assert_close(center_crop(x, 4, 3), expected.view(1, 1, 4, 3))


def test_convnet_plain_and_residual():
    torch.manual_seed(0)
    plain, residual = ConvNet(2, 8, residual=False), ConvNet(2, 8)
    assert count_parameters(plain) == count_parameters(residual)  # o atalho não tem parâmetros
    assert plain(torch.randn(3, 64)).shape == residual(torch.randn(3, 1, 8, 8)).shape == (3, 10)
