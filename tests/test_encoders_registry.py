"""Encoder names resolve to one shared object per process; bad names fail clearly."""

from __future__ import annotations

import pytest

from interestmap.encoders import registry
from interestmap.encoders.audio_aisfx import AisfxAudio
from interestmap.encoders.audio_clap import ClapAudio
from interestmap.encoders.text_e5 import E5SmallText
from interestmap.encoders.text_st import SentenceTransformerText
from interestmap.encoders.text_use import UniversalSentenceEncoderText
from interestmap.encoders.visual_efficientnet import EfficientNetLite0Image
from interestmap.encoders.visual_openclip import OpenClipImage
from interestmap.errors import ConfigError, ModelLoadError


def test_same_name_returns_the_same_object():
    a = registry.get_text_encoder("e5-small")
    assert a is registry.get_text_encoder("e5-small")
    assert isinstance(a, E5SmallText)
    assert registry.get_image_encoder("efficientnet-lite0") is \
        registry.get_image_encoder("efficientnet-lite0")


def test_names_resolve_to_their_backends():
    assert isinstance(registry.get_text_encoder("use-m3"), UniversalSentenceEncoderText)
    st = registry.get_text_encoder("st:/models/my-sbert")
    assert isinstance(st, SentenceTransformerText)
    assert st.model_name_or_path == "/models/my-sbert"
    assert isinstance(registry.get_text_encoder("minilm-l6"), SentenceTransformerText)
    assert isinstance(registry.get_image_encoder("efficientnet-lite0"), EfficientNetLite0Image)
    oc = registry.get_image_encoder("open_clip:ViT-B-16@/ckpts/b16.pt")
    assert isinstance(oc, OpenClipImage)
    assert (oc.model_name, oc.pretrained) == ("ViT-B-16", "/ckpts/b16.pt")
    tag = registry.get_image_encoder("open_clip:ViT-B-32@laion2b_s34b_b79k")
    assert tag.pretrained == "laion2b_s34b_b79k"
    assert isinstance(registry.get_audio_encoder("aisfx"), AisfxAudio)
    clap = registry.get_audio_encoder("clap:/ckpts/630k-audioset-best.pt")
    assert isinstance(clap, ClapAudio)
    assert (clap.amodel, clap.checkpoint) == ("HTSAT-tiny", "/ckpts/630k-audioset-best.pt")
    base = registry.get_audio_encoder("clap:HTSAT-base@/ckpts/music.pt")
    assert (base.amodel, base.checkpoint) == ("HTSAT-base", "/ckpts/music.pt")


def test_defaults_and_environment(monkeypatch):
    monkeypatch.delenv(registry.TEXT_ENV, raising=False)
    assert registry.get_text_encoder() is registry.get_text_encoder(
        registry.DEFAULT_TEXT_ENCODER)
    monkeypatch.setenv(registry.TEXT_ENV, "e5-small")
    assert isinstance(registry.get_text_encoder(), E5SmallText)
    monkeypatch.setenv(registry.AUDIO_ENV, "aisfx")
    assert isinstance(registry.get_audio_encoder(), AisfxAudio)
    monkeypatch.delenv(registry.IMAGE_ENV, raising=False)
    assert isinstance(registry.get_image_encoder(), EfficientNetLite0Image)


@pytest.mark.parametrize("getter, name, listed", [
    (registry.get_text_encoder, "bert-large", "use-m3"),
    (registry.get_image_encoder, "resnet50", "efficientnet-lite0"),
    (registry.get_audio_encoder, "wav2vec", "aisfx"),
    (registry.get_text_encoder, "st:", "st:NAME_OR_PATH"),
])
def test_unknown_names_list_the_valid_ones(getter, name, listed):
    with pytest.raises(ConfigError) as err:
        getter(name)
    msg = str(err.value)
    assert name in msg and listed in msg and "\n" not in msg


def test_clap_and_open_clip_without_a_checkpoint_say_which_setting(monkeypatch):
    monkeypatch.delenv("INTERESTMAP_CLAP_CHECKPOINT", raising=False)
    monkeypatch.delenv("INTERESTMAP_OPENCLIP_CHECKPOINT", raising=False)
    with pytest.raises(ModelLoadError, match="INTERESTMAP_CLAP_CHECKPOINT"):
        registry.get_audio_encoder("clap").info  # noqa: B018
    with pytest.raises(ModelLoadError, match="INTERESTMAP_OPENCLIP_CHECKPOINT"):
        registry.get_image_encoder("open_clip:ViT-B-32").resolved_pretrained()


def test_plain_names_ignore_case():
    assert registry.get_text_encoder("USE-M3") is registry.get_text_encoder("use-m3")
