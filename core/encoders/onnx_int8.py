"""An int8 ONNX copy of the lyrics model: the same embedding space, faster on CPU.

On the CPU-only machines musicrec is built for, the lyrics encoder sets the indexer's pace
(the pipeline runs at ~99% of it, docs/performance.md). Dynamic int8 quantization of the
transformer's matrix products is the usual cure, but quantizing all of them moves some lyrics
to cosine 0.986 from their fp32 vectors: the feed-forward output projections carry BERT's
activation outliers. Those six stay fp32, the rest are int8 with per-channel weight scales;
every demo lyric then stays at cosine ≥ 0.99 (`scripts/bench_lyrics_runtime.py` measures it,
`tests/core/encoders/test_lyrics_onnx.py` asserts it), so vectors from either runtime share
one collection.

The ONNX file is derived from the loaded sentence-transformers model (export, then
quantize) on first use and cached under a name that hashes the weights and this recipe, so a
different model or recipe never reuses a stale file. Needs the `onnx` extra.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import torch
    from sentence_transformers import SentenceTransformer

log = logging.getLogger(__name__)

#: Bump when the export or quantization changes: it is part of the cached file's name.
RECIPE = "mean-normalize/opset17/int8-per-channel/ffn-out-fp32/v1"


class OnnxUnavailableError(RuntimeError):
    """The int8 runtime cannot be built for this model or environment."""


def _check_supported(model: SentenceTransformer) -> None:
    """The exported graph hard-codes mean pooling + L2 normalization (MiniLM, MPNet)."""
    modules = [type(m).__name__ for m in model]
    pooling = getattr(model[1], "pooling_mode", None) if len(model) > 1 else None
    if modules[:3] != ["Transformer", "Pooling", "Normalize"] or pooling != "mean":
        raise OnnxUnavailableError(
            f"the onnx-int8 lyrics runtime supports mean-pooled, normalized models; this one "
            f"is {modules} with pooling {pooling!r}: use MUSICREC_LYRICS_RUNTIME=torch"
        )


def _transformer(model: SentenceTransformer) -> torch.nn.Module:
    """The Hugging Face model inside the first module (its stubs say Tensor | Module)."""
    import torch

    module = model[0].auto_model
    if not isinstance(module, torch.nn.Module):
        raise TypeError(f"expected a torch module, got {type(module).__name__}")
    return module


def _fingerprint(model: SentenceTransformer) -> str:
    digest = hashlib.sha256(RECIPE.encode())
    for name, tensor in _transformer(model).state_dict().items():
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()[:16]


def _export_fp32(model: SentenceTransformer, names: list[str], target: Path) -> None:
    import torch

    class Embed(torch.nn.Module):
        def __init__(self, transformer: torch.nn.Module) -> None:
            super().__init__()
            self.transformer = transformer

        def forward(self, *tensors: torch.Tensor) -> torch.Tensor:
            inputs = dict(zip(names, tensors, strict=True))
            hidden = self.transformer(**inputs).last_hidden_state
            mask = inputs["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, dim=-1)

    sample = model.tokenizer(["a short line", "a slightly longer line of lyrics"], padding=True)
    args = tuple(torch.tensor(sample[n]) for n in names)
    axes: dict[str, Any] = {n: {0: "batch", 1: "tokens"} for n in names}
    # The tracer warns that the attention-mask helpers' Python branches (causal masks, key-value
    # caches) become constants: an encoder takes neither, and the tests compare the results.
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        warnings.filterwarnings("ignore", message=".*aten::index.*")
        torch.onnx.export(
            Embed(_transformer(model)).eval(),
            args,
            str(target),
            input_names=names,
            output_names=["embedding"],
            dynamic_axes={**axes, "embedding": {0: "batch"}},
            opset_version=17,
            dynamo=False,  # the tracing exporter needs no onnxscript and handles BERT fine
        )


class _NoPreprocessHint(logging.Filter):
    """onnxruntime suggests its shape-inference pre-pass, which cannot infer this graph's
    symbolic shapes; the quantized model is checked against fp32 without it."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "pre-processing before quantization" not in record.getMessage()


def _quantize(source: Path, target: Path) -> None:
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    graph = onnx.load(str(source), load_external_data=False)
    keep_fp32 = [
        n.name
        for n in graph.graph.node
        if n.op_type == "MatMul" and "/output/dense/" in n.name and "/attention/" not in n.name
    ]
    hint = _NoPreprocessHint()
    logging.getLogger().addFilter(hint)
    try:
        quantize_dynamic(
            str(source),
            str(target),
            weight_type=QuantType.QInt8,
            per_channel=True,
            op_types_to_quantize=["MatMul"],
            nodes_to_exclude=keep_fp32,
        )
    finally:
        logging.getLogger().removeFilter(hint)


def build_int8(model: SentenceTransformer, cache_dir: Path) -> tuple[Path, list[str]]:
    """(cached int8 ONNX file for `model`, its input names), exported on first use."""
    _check_supported(model)
    names = [
        n for n in ("input_ids", "attention_mask", "token_type_ids") if n in model.tokenizer(["a"])
    ]
    target = cache_dir / f"lyrics-{_fingerprint(model)}-int8.onnx"
    if target.exists():
        return target, names
    cache_dir.mkdir(parents=True, exist_ok=True)
    log.info("exporting the lyrics model to int8 ONNX (once) → %s", target)
    with tempfile.TemporaryDirectory(dir=cache_dir, prefix=".export-") as tmp:
        fp32, int8 = Path(tmp) / "fp32.onnx", Path(tmp) / "int8.onnx"
        _export_fp32(model, names, fp32)
        _quantize(fp32, int8)
        os.replace(int8, target)  # atomic: a concurrent or killed export never leaves half a file
    return target, names


class Int8Embedder:
    """Tokenize like sentence-transformers, run the int8 graph; batches sorted by length so
    padding stays short (sentence-transformers does the same)."""

    def __init__(self, model: SentenceTransformer, cache_dir: Path) -> None:
        import torch

        try:
            import onnx  # noqa: F401  (quantization needs it)
            import onnxruntime as ort
        except ImportError as exc:
            raise OnnxUnavailableError(
                "MUSICREC_LYRICS_RUNTIME=onnx-int8 needs onnxruntime and onnx: "
                "pip install 'musicrec[onnx]'"
            ) from exc

        path, self.names = build_int8(model, cache_dir)
        self.tokenizer = model.tokenizer
        self.dim = int(model.get_embedding_dimension() or 0)
        options = ort.SessionOptions()
        options.intra_op_num_threads = torch.get_num_threads()
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

    def embed(self, texts: list[str], batch_size: int, max_seq_length: int) -> np.ndarray:
        order = np.argsort([-len(t) for t in texts], kind="stable")
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        for start in range(0, len(texts), batch_size):
            rows = order[start : start + batch_size]
            tokens = self.tokenizer(
                [texts[i] for i in rows],
                padding=True,
                truncation=True,
                max_length=max_seq_length,
                return_tensors="np",
            )
            feed = {n: tokens[n].astype(np.int64) for n in self.names}
            out[rows] = self.session.run(None, feed)[0]
        return out
