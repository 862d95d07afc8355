"""Pieces every trainer shares: seeding, CPU threads, ONNX export and reloading weights."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import random
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TypeVar

import numpy as np
import onnx
import torch
from onnx import numpy_helper

ONNX_OPSET = 17


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def set_cpu_threads(threads: int = 2) -> None:
    """Both machine cores; more threads only fight the other jobs on this box."""
    torch.set_num_threads(threads)


@contextlib.contextmanager
def maybe_bf16(enabled: bool, device: torch.device | str = "cpu") -> Iterator[None]:
    """bf16 autocast; off = no-op.

    Half-width matmuls train faster on CPUs with bf16 support and run on a GPU's tensor cores,
    and bf16 keeps fp32's exponent range, so no loss scaling is needed.
    """
    device_type = torch.device(device).type
    with torch.autocast(device_type, dtype=torch.bfloat16, enabled=enabled):
        yield


def torch_logits_fn(
    module: torch.nn.Module,
    device: torch.device | str = "cpu",
    side_inputs: Sequence[np.ndarray] = (),
) -> Callable[[np.ndarray], np.ndarray]:
    """int64 tokens [B, N] -> float32 logits [B, N, V] from a torch module on ``device``.

    The torch side of ``make bench`` and the chorale evaluator on a GPU. ``side_inputs``
    (one window's, no batch axis) follow the tokens as arguments, repeated for each row.
    """
    target = torch.device(device)
    module = module.float().eval().to(target)
    extras = [torch.from_numpy(np.asarray(a, dtype=np.float32)).to(target) for a in side_inputs]

    def logits(tokens: np.ndarray) -> np.ndarray:
        batch = torch.from_numpy(np.ascontiguousarray(tokens, dtype=np.int64)).to(target)
        rows = [e.expand(batch.shape[0], *e.shape).contiguous() for e in extras]
        with torch.inference_mode():
            out = module(batch, *rows)
        return out.float().cpu().numpy()  # type: ignore[no-any-return]

    return logits


def save_token_cache(
    path: Path, splits: dict[str, list[np.ndarray]], meta: dict[str, object]
) -> int:
    """Write token arrays per split (int16, ``<split>_<i>``) and a JSON ``meta`` to one .npz.

    A transformer-only run (``image-transformer``, ``motion-transformer``) reads this instead
    of the photo or mocap archives: a few MB that travel to a GPU machine.
    """
    arrays = {"meta": np.array(json.dumps(meta))}
    for split, sequences in splits.items():
        for index, tokens in enumerate(sequences):
            arrays[f"{split}_{index}"] = tokens.astype(np.int16)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, **arrays)  # type: ignore[arg-type]
    return len(arrays) - 1


def load_token_cache(path: Path) -> tuple[dict[str, list[np.ndarray]], dict[str, object]]:
    """(int64 token arrays per split, in order; meta) from a ``save_token_cache`` file."""
    splits: dict[str, dict[int, np.ndarray]] = {}
    with np.load(path) as blob:
        meta: dict[str, object] = json.loads(str(blob["meta"]))
        for key in blob.files:
            if key != "meta":
                split, index = key.rsplit("_", 1)
                splits.setdefault(split, {})[int(index)] = blob[key].astype(np.int64)
    return {name: [arrays[i] for i in sorted(arrays)] for name, arrays in splits.items()}, meta


@dataclasses.dataclass(frozen=True)
class ModelFacts:
    """What every shipped manifest says of its model (schema v1, engine/models.py reads it)."""

    name: str
    medium: str
    description: str
    files: dict[str, str]
    vocab_size: int
    mask_id: int
    shape: list[int]
    medium_facts: dict[str, object]
    license: str
    data: str
    side_inputs: tuple[str, ...] = ()  # float transformer inputs the codec fills per window


def write_manifest(out_dir: Path, facts: ModelFacts, sampling: dict[str, object]) -> Path:
    """``out_dir/manifest.json`` for a token transformer exported with ``tokens``/``logits``."""
    manifest = {
        "schema_version": 1,
        "name": facts.name,
        "medium": facts.medium,
        "description": facts.description,
        "files": facts.files,
        "tokens": {"vocab_size": facts.vocab_size, "mask_id": facts.mask_id, "shape": facts.shape},
        "io": {
            "tokens": "tokens",
            "logits": "logits",
            "condition": None,
            **({"side_inputs": list(facts.side_inputs)} if facts.side_inputs else {}),
        },
        "sampling": dict(sampling),
        "medium_facts": facts.medium_facts,
        "license": facts.license,
        "data": facts.data,
    }
    path = out_dir / "manifest.json"
    path.write_text(json.dumps(manifest, indent=2) + "\n")
    return path


def onnx_size_mb(out_dir: Path) -> float:
    """Megabytes of the ONNX files in a model folder."""
    return sum(p.stat().st_size for p in out_dir.glob("*.onnx")) / 1e6


ModuleT = TypeVar("ModuleT", bound=torch.nn.Module)


def save_checkpoint(
    path: Path, model: torch.nn.Module, config: object, info: dict[str, object]
) -> None:
    """``{config, state, info}`` with torch.save, written to a temporary file then renamed, so
    a run killed mid-write leaves the previous checkpoint whole. ``config`` is a dataclass."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    blob = {"config": dataclasses.asdict(config), "state": model.state_dict(), "info": info}  # type: ignore[call-overload]
    torch.save(blob, tmp)
    tmp.replace(path)


def load_checkpoint(
    path: Path, build: Callable[[dict[str, object]], ModuleT]
) -> tuple[ModuleT, dict[str, object]]:
    """The module ``build(config)`` with the saved weights (eval mode), and the saved info."""
    blob = torch.load(path, map_location="cpu", weights_only=False)
    model = build(blob["config"])
    model.load_state_dict(blob["state"])
    return model.eval(), dict(blob["info"])


def count_params(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def export_onnx(
    module: torch.nn.Module,
    example: torch.Tensor | tuple[torch.Tensor, ...],
    path: Path,
    in_name: str | Sequence[str],
    out_name: str,
) -> None:
    """Legacy exporter, opset 17, dynamic batch (one input, or several named in order).

    Constant folding is off so every parameter keeps its ``state_dict`` name as an
    initializer (folding would bake transposed copies under generated names); onnxruntime
    folds those transposes itself when it loads the session.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    module.eval()
    examples = example if isinstance(example, tuple) else (example,)
    in_names = [in_name] if isinstance(in_name, str) else list(in_name)
    torch.onnx.export(
        module,
        examples,
        str(path),
        input_names=in_names,
        output_names=[out_name],
        dynamic_axes={name: {0: "batch"} for name in [*in_names, out_name]},
        opset_version=ONNX_OPSET,
        do_constant_folding=False,
        dynamo=False,
    )
    _record_param_aliases(module, path)
    onnx.checker.check_model(onnx.load(str(path)))


def export_token_transformer(
    model: torch.nn.Module,
    path: Path,
    length: int,
    mask_id: int,
    tolerance: float = 1e-3,
    int8: bool = False,
    side_shapes: Mapping[str, tuple[int, ...]] | None = None,
) -> Path:
    """Export a masked transformer (int64 ``tokens`` [B, N] -> ``logits``) and prove it.

    onnxruntime must reproduce torch on random tokens (mask id included) within
    ``tolerance``, or the export raises instead of shipping a model that differs. With
    ``int8`` the file is then replaced by its ``quantize_int8`` copy, whose logits must stay
    within ``INT8_TOLERANCE`` of torch's (``relative_error``). ``side_shapes`` names float
    inputs that follow the tokens (shapes without the batch axis), probed with values in [0, 1].
    """
    model = model.float().eval()
    shapes = dict(side_shapes or {})
    examples = [torch.full((2, length), mask_id, dtype=torch.int64)]
    examples += [torch.zeros(2, *shape) for shape in shapes.values()]
    export_onnx(model, tuple(examples), path, ["tokens", *shapes], "logits")
    rng = np.random.default_rng(0)
    probe = rng.integers(0, mask_id, (3, length)).astype(np.int64)
    probe[rng.random(probe.shape) < 0.5] = mask_id
    feeds = {"tokens": probe}
    for name, shape in shapes.items():
        feeds[name] = rng.random((3, *shape)).astype(np.float32)
    with torch.no_grad():
        want = model(*(torch.from_numpy(a) for a in feeds.values())).numpy()
    err = float(np.abs(_onnx_logits(path, feeds) - want).max())
    if err > tolerance:
        raise RuntimeError(f"onnxruntime differs from torch by {err}")
    if int8:
        quantized = quantize_int8(path, path.with_suffix(".int8.onnx"))
        error = relative_error(_onnx_logits(quantized, feeds), want)
        if error > INT8_TOLERANCE:
            quantized.unlink()
            raise RuntimeError(f"the int8 model's logits are {error:.1%} off torch's")
        quantized.replace(path)
    return path


INT8_TOLERANCE = 0.05


def relative_error(got: np.ndarray, want: np.ndarray) -> float:
    """Mean absolute difference of logits over their spread (1.4 % for the int8 chorale model)."""
    return float(np.abs(got - want).mean() / max(float(want.std()), 1e-12))


def _onnx_logits(path: Path, feeds: Mapping[str, np.ndarray]) -> np.ndarray:
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(["logits"], dict(feeds))[0]  # type: ignore[no-any-return]


ConfigT = TypeVar("ConfigT")


def config_from_dict(cls: type[ConfigT], raw: dict[str, object]) -> ConfigT:
    """Rebuild an architecture dataclass from a manifest, ignoring keys it does not know."""
    names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    return cls(**{k: v for k, v in raw.items() if k in names})


ALIAS_KEY = "remask.param_aliases"


def _record_param_aliases(module: torch.nn.Module, path: Path) -> None:
    """Note which initializer holds each parameter the exporter merged into an equal one.

    The legacy exporter deduplicates initializers with identical values (e.g. LayerNorm
    weights still at 1.0), so some parameter names vanish; the map goes into the file's
    metadata so ``load_state_from_onnx`` can find every parameter again.
    """
    model = onnx.load(str(path))
    inits = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    aliases: dict[str, str] = {}
    for name, tensor in module.state_dict().items():
        if name in inits:
            continue
        value = tensor.detach().cpu().numpy()
        match = next(
            (k for k, v in inits.items() if v.shape == value.shape and np.array_equal(v, value)),
            None,
        )
        if match is None:
            raise RuntimeError(f"parameter {name} is not among the exported initializers")
        aliases[name] = match
    if aliases:
        entry = model.metadata_props.add()
        entry.key, entry.value = ALIAS_KEY, json.dumps(aliases)
        onnx.save(model, str(path))


def onnx_initializers(path: Path) -> dict[str, np.ndarray]:
    """Every initializer of an ONNX file by name; int8 weights come back dequantized.

    ``quantize_int8`` stores a Linear weight ``w`` as ``w.T_quantized`` with a scale and zero
    point (one per output column, or one for all in older files); this returns ``w`` itself
    again (float32, in torch's [out, in] layout).
    """
    model = onnx.load(str(path))
    inits = {init.name: numpy_helper.to_array(init) for init in model.graph.initializer}
    for name in [n for n in inits if n.endswith(INT8_SUFFIX)]:
        stem = name.removesuffix("_quantized")  # "<param>.T"
        scale, zero = inits[f"{stem}_scale"], inits[f"{stem}_zero_point"]
        values = (inits[name].astype(np.float32) - zero.astype(np.float32)) * scale
        inits[stem.removesuffix(".T")] = np.ascontiguousarray(values.T)
    return inits


INT8_SUFFIX = ".T_quantized"


def is_int8(path: Path) -> bool:
    """Whether ``quantize_int8`` wrote this file."""
    model = onnx.load(str(path), load_external_data=False)
    return any(init.name.endswith(INT8_SUFFIX) for init in model.graph.initializer)


def _fold_weight_transposes(model: onnx.ModelProto) -> None:
    """Replace Transpose(initializer) nodes by transposed initializers named ``<name>.T``.

    The legacy exporter feeds each Linear's MatMul through a Transpose of the weight; dynamic
    quantization only quantizes MatMuls whose weight is an initializer.
    """
    graph = model.graph
    inits = {init.name: init for init in graph.initializer}
    for node in list(graph.node):
        if node.op_type != "Transpose" or node.input[0] not in inits:
            continue
        value = numpy_helper.to_array(inits[node.input[0]])
        if value.ndim != 2:
            continue
        name = f"{node.input[0]}.T"
        graph.initializer.append(numpy_helper.from_array(np.ascontiguousarray(value.T), name))
        for other in graph.node:
            other.input[:] = [name if i == node.output[0] else i for i in other.input]
        graph.node.remove(node)


def quantize_int8(fp32_path: Path, out_path: Path) -> Path:
    """Write an int8 copy of an exported model: MatMul weights int8, activations dynamic.

    onnxruntime then runs those MatMuls as integer GEMMs (the chorale model's step: 21 ms
    float32, 13 ms int8 where it was timed; no gain with AVX2 alone); everything else stays
    float32. The weights get 7 bits (``reduce_range``) and one scale per output column
    (``per_channel``): x86 CPUs without VNNI (AVX2 only) multiply uint8 activations by int8
    weights with ``vpmaddubsw``, which saturates at 16 bits once two adjacent products pass
    32767, and full 8-bit weights put an untrained model's logits 22 % off torch's there
    (1.2 % with exact integer sums). 7-bit weights cannot saturate, so every CPU computes the
    same exact sums, and the per-column scales win back the lost bit (the chorale model: 1.2 %
    off torch, as against 0.95 % with 8-bit per-tensor weights and 2.2 % with 7-bit ones).
    ``onnx_initializers`` dequantizes the weights again, so torch can still be rebuilt from
    the file.
    """
    from onnxruntime.quantization import QuantType, quantize_dynamic

    model = onnx.load(str(fp32_path))
    _fold_weight_transposes(model)
    folded = out_path.with_suffix(".folded.onnx")
    onnx.save(model, str(folded))
    try:
        quantize_dynamic(
            str(folded),
            str(out_path),
            weight_type=QuantType.QInt8,
            op_types_to_quantize=["MatMul"],
            per_channel=True,
            reduce_range=True,
        )
    finally:
        folded.unlink()
    quantized = onnx.load(str(out_path))
    present = {prop.key for prop in quantized.metadata_props}
    for prop in onnx.load(str(fp32_path)).metadata_props:  # the parameter aliases
        if prop.key not in present:
            quantized.metadata_props.append(prop)
    onnx.save(quantized, str(out_path))
    onnx.checker.check_model(quantized)
    return out_path


def load_state_from_onnx(module: torch.nn.Module, path: Path) -> torch.nn.Module:
    """Copy the ONNX initializers named like ``module``'s state (parameters and persistent
    buffers, such as baked-in normalisation statistics) into it (all required)."""
    inits = onnx_initializers(path)
    meta = {p.key: p.value for p in onnx.load(str(path), load_external_data=False).metadata_props}
    aliases = json.loads(meta.get(ALIAS_KEY, "{}"))
    names = list(module.state_dict())
    missing = [name for name in names if aliases.get(name, name) not in inits]
    if missing:
        raise KeyError(f"{path} lacks initializers for {missing}")
    state = {name: torch.from_numpy(inits[aliases.get(name, name)].copy()) for name in names}
    module.load_state_dict(state, strict=True)
    return module


def masked_loss(
    logits: torch.Tensor, targets: torch.Tensor, loss_mask: torch.Tensor
) -> torch.Tensor:
    """Cross-entropy averaged over the masked cells of each example, then over the batch.

    Per-example averaging keeps a lightly masked example from counting for less than a
    heavily masked one, which matters when masking rates are drawn from (0, 1].
    """
    nll = torch.nn.functional.cross_entropy(
        logits.float().transpose(1, 2), targets, reduction="none"
    )
    per_example = (nll * loss_mask).sum(1) / loss_mask.sum(1).clamp(min=1)
    return per_example.mean()


def warmup_cosine(step: int, progress: float, warmup: int, floor: float = 0.05) -> float:
    """Learning-rate factor: linear warm-up, then cosine decay to ``floor`` over the budget.

    ``progress`` is the fraction of the (time or step) budget spent, so a time-boxed run
    still ends at the floor whatever its step rate.
    """
    if step < warmup:
        return (step + 1) / warmup
    return floor + (1.0 - floor) * 0.5 * (1.0 + math.cos(math.pi * min(progress, 1.0)))


def optimizer_step(
    opt: torch.optim.Optimizer, model: torch.nn.Module, loss: torch.Tensor, clip: float = 1.0
) -> None:
    """One update with the gradient norm clipped, as every trainer here does it."""
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
    opt.step()


class Ema:
    """Exponential moving average of a module's parameters (exported when it validates better)."""

    def __init__(self, model: torch.nn.Module, decay: float) -> None:
        self.decay = decay
        self.shadow = {k: v.detach().clone() for k, v in model.state_dict().items()}

    @torch.no_grad()
    def update(self, model: torch.nn.Module) -> None:
        for k, v in model.state_dict().items():
            if v.dtype.is_floating_point:
                self.shadow[k].lerp_(v, 1.0 - self.decay)

    def copy_to(self, model: torch.nn.Module) -> torch.nn.Module:
        model.load_state_dict(self.shadow)
        return model
