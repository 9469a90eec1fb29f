"""The API's request and response bodies, as pydantic models.

FastAPI reads every body with these models and writes the OpenAPI document from them:
JSON bodies (``...Request``) and multipart forms (``...Form``, the same fields plus the
uploaded files). Every model refuses unknown fields and non-finite numbers.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import UploadFile
from pydantic import BaseModel, ConfigDict, Field, Json, field_validator, model_validator

FILE_EDITS: dict[str, str] = {"media": "edit_media", "frames": "edit_frames",
                              "audio": "edit_audio"}
"""Edits that swap media, and the multipart field their replacement file comes in."""

MEDIA_DOC = ("A video, an audio file, or image(s) (several = a carousel). Only the bytes are "
             "used; the file's name is kept for messages.")


# Requests --------------------------------------------------------------------------------
class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class ClipFilters(_Strict):
    """Which indexed clips may be returned as nearest clips (all given conditions hold)."""

    account: str | list[str] | None = Field(None, description="account name(s)",
                                            examples=["@mychannel"])
    language: str | list[str] | None = Field(None, description="language code(s)",
                                             examples=["en"])
    media_kind: str | list[str] | None = Field(
        None, description='"video", "image", "carousel", "audio" or "none"')
    labels: str | list[str] | None = Field(None, description="clip label(s)")
    audience: int | list[int] | None = Field(None, description="audience id(s)")
    since: str | None = Field(None, description="published at or after (ISO 8601 date)",
                              examples=["2024-05-01"])
    until: str | None = Field(None, description="published at or before (ISO 8601 date)")


class ClipFields(_Strict):
    """A clip described in words: caption, language and geo."""

    caption: str = Field("", max_length=10_000,
                         description="Caption with hashtags, as it would be posted.",
                         examples=["Matchday! ⚽ #football #derby"])
    language: str | None = Field(None, max_length=35,
                                 description="Language code the clip is in (ISO 639-1), "
                                             "e.g. en, ru, pt. Detected when omitted.",
                                 examples=["en"])
    geo: str | None = Field(None, max_length=200,
                            description='Where it is posted for: a city or country, or '
                                        '"lat,lon".', examples=["Madrid"])
    ocr: bool = Field(True, description="Read on-screen text of uploaded media (slower).")
    asr: bool = Field(True, description="Transcribe speech of uploaded media (slower).")


class _NearestOptions(ClipFields):
    k: int = Field(5, ge=1, le=100, description="How many audiences to return.")
    k_clips: int = Field(5, ge=0, le=100, description="How many nearest clips to return.")


class NearestAudienceRequest(_NearestOptions):
    """Either a clip (caption, language, geo) or a raw fused ``vector``, not both."""

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"caption": "Derby day at the stadium #football", "language": "en",
         "geo": "Madrid", "k": 3},
        {"vector": [0.01, -0.02, 0.03], "k": 5},
    ]})

    vector: list[float] | None = Field(
        None, min_length=1, max_length=100_000,
        description="A fused interest vector (e.g. from `interestmap encode --out`), with "
                    "exactly the index's number of dimensions (see /healthz).")
    filters: ClipFilters | None = Field(None, description="Restrict the nearest clips.")

    @model_validator(mode="after")
    def _vector_or_clip(self) -> NearestAudienceRequest:
        if self.vector is not None and (self.caption.strip() or self.language or self.geo):
            raise ValueError("give either a 'vector' or a clip (caption, language, geo), "
                             "not both: a fused vector already holds them")
        return self


class NearestAudienceForm(_NearestOptions):
    """The clip's media under ``file``, and the same clip fields as text form fields."""

    file: list[UploadFile] = Field(description=MEDIA_DOC)


class AnalyzeRequest(ClipFields):
    """A clip described in words (upload media to ``/v1/analyze/upload``)."""

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"caption": "3 drills for a stronger first touch #football", "language": "en",
         "geo": "Madrid", "k": 3},
    ]})

    k: int = Field(5, ge=1, le=100, description="How many audiences and topics to return.")
    k_clips: int = Field(5, ge=0, le=100, description="How many nearest clips to return.")


class AnalyzeForm(AnalyzeRequest):
    """The clip's media under ``file``, and the same clip fields as text form fields."""

    model_config = ConfigDict(json_schema_extra=None)

    file: list[UploadFile] = Field(description=MEDIA_DOC)


class EditIn(_Strict):
    """One change to the clip. Media swaps are uploaded files (see the multipart form)."""

    kind: Literal["caption", "language", "geo", "drop"] = Field(
        description="caption: new caption text ('' removes it); language: a language "
                    "code; geo: a place; drop: a block to remove (caption, ocr, speech, "
                    "visual, visual_semantics, audio, audio_semantics, language, geo, or "
                    "'visuals' / 'sound' for both picture / both sound blocks).")
    value: str = Field("", max_length=10_000, examples=["ru"])

    @field_validator("kind", mode="before")
    @classmethod
    def _media_swaps_are_uploads(cls, kind: Any) -> Any:
        if kind in FILE_EDITS:
            raise ValueError(f"a '{kind}' edit swaps media: upload the new file to "
                             f"/v1/whatif/upload under '{FILE_EDITS[kind]}' (no file path "
                             "sent by a client is ever opened)")
        return kind


class WhatIfRequest(ClipFields):
    """A clip and the text edits to try; each edit is a separate variant unless
    ``combine``. Media swaps are uploads: see ``/v1/whatif/upload``."""

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"caption": "Derby day! #football", "language": "en", "geo": "Madrid",
         "edits": [{"kind": "language", "value": "es"}, {"kind": "geo", "value": "London"},
                   {"kind": "caption", "value": "¡Día de derbi! #fútbol"}]},
    ]})

    edits: list[EditIn] = Field(default_factory=list, max_length=20,
                                description="The text edits to try.")
    combine: bool = Field(False, description="Apply all the edits together as one variant.")
    k: int = Field(5, ge=1, le=50, description="How many audiences to compare.")


class WhatIfForm(ClipFields):
    """The clip (media under ``file``, optional), text edits as a JSON list in ``edits``,
    and replacement media under ``edit_media``, ``edit_frames`` or ``edit_audio``: each
    uploaded replacement is one more variant."""

    file: list[UploadFile] = Field(default_factory=list,
                                   description="The clip's media (optional: caption-only "
                                               "posts too). Only the bytes are used.")
    edits: Json[list[EditIn]] = Field(
        default_factory=list, max_length=20,
        description='JSON list of text edits, e.g. [{"kind": "language", "value": "es"}]')
    combine: bool = Field(False, description="Apply all the edits together as one variant.")
    k: int = Field(5, ge=1, le=50, description="How many audiences to compare.")
    edit_media: list[UploadFile] = Field(default_factory=list,
                                         description="Replacement media (a 'media' edit).")
    edit_frames: list[UploadFile] = Field(default_factory=list,
                                          description="Replacement visuals (a 'frames' "
                                                      "edit).")
    edit_audio: list[UploadFile] = Field(default_factory=list,
                                         description="Replacement sound (an 'audio' edit).")

    @field_validator("edits", mode="before")
    @classmethod
    def _blank_is_none(cls, raw: Any) -> Any:
        return "[]" if isinstance(raw, str) and not raw.strip() else raw

    def file_edits(self) -> list[tuple[str, UploadFile]]:
        """The uploaded replacements as ``(edit kind, file)``, one variant each."""
        return [(kind, f) for kind, part in FILE_EDITS.items()
                for f in getattr(self, part)]


# Responses -------------------------------------------------------------------------------
class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class AnalyzeResponse(_Open):
    """The analysis of one clip (what ``interestmap analyze --json`` prints)."""

    index: str = Field(description="Name of the index the clip was compared with.")
    clip: dict[str, Any] = Field(description="Media kind, blocks present, missing blocks "
                                             "and why, the signals read.")
    clarity: dict[str, Any] = Field(description="Topic clarity 0-100 with its reason.")
    topics: dict[str, Any] = Field(description="Declared topics, fused and per block.")
    modalities: dict[str, Any] = Field(description="Which block drives the match and "
                                                   "which disagrees.")
    audiences: list[dict[str, Any]]
    nearest_clips: list[dict[str, Any]]
    map: dict[str, Any] = Field(description="x, y on the index's map.")
    advice: list[dict[str, Any]] = Field(description="Ranked suggestions with evidence.")


class VariantOut(_Open):
    edits: list[dict[str, Any]]
    summary: str = Field(description="The move in one sentence.")
    fused_distance: float = Field(description="1 - cosine between the original and the "
                                              "edited fused vectors.")
    distance_by_block: dict[str, float]
    map: dict[str, Any]
    top_topic: dict[str, Any]
    audiences: list[dict[str, Any]] = Field(description="Similarity before and after.")
    attribution_delta: dict[str, Any]
    clarity: dict[str, Any]


class WhatIfResponse(_Open):
    original: AnalyzeResponse
    variants: list[VariantOut]


class TopicRef(BaseModel):
    id: str = Field(description="Declared topic id.")
    name: str
    similarity: float | None = Field(None, description="Cosine of the audience's text "
                                                       "centroid to the topic.")


class AudienceMatch(BaseModel):
    """An audience the clip reaches, with why."""

    id: int
    label: str = Field(description="Plain-words name of the audience.")
    size: int = Field(description="Clips of the index in this audience.")
    similarity: float = Field(description="Weighted mean of per-block cosines to the "
                                          "audience centroid, over the blocks both have.")
    probability: float = Field(description="Membership probability (0..1) by the "
                                           "audience model.")
    attribution: dict[str, float] = Field(
        description="Each block's share of the similarity (they sum to it).")
    top_topics: list[TopicRef] = Field(default_factory=list)


class ClipMatch(BaseModel):
    id: str | None = None
    account: str | None = None
    caption: str | None = None
    audience: int | None = None
    similarity: float


class QueryInfo(BaseModel):
    """What the server made of the request."""

    kind: Literal["caption", "vector", "upload"]
    media_kind: str = Field("none", description='"video", "image", "carousel", "audio" '
                                                'or "none" (caption only).')
    blocks: list[str] = Field(description="Blocks present in the clip's fused vector.")
    missing: dict[str, str] = Field(default_factory=dict,
                                    description="Absent blocks and why, in words.")
    language: str | None = None
    notes: list[str] = Field(default_factory=list)


class NearestAudienceResponse(BaseModel):
    audiences: list[AudienceMatch]
    clips: list[ClipMatch]
    x: float | None = Field(None, description="Where the clip lands on the map.")
    y: float | None = None
    query: QueryInfo


class AudienceOut(BaseModel):
    id: int
    label: str
    size: int
    keywords: list[tuple[str, float]]
    top_topics: list[TopicRef]
    account_shares: dict[str, float] = Field(description="Account -> share of the "
                                                         "audience's clips.")
    exemplars: list[str] = Field(description="Ids of its most typical clips.")


class AudiencesResponse(BaseModel):
    count: int
    clips: int | None = Field(None, description="Clips in the index.")
    outlier_share: float | None = Field(None, description="Share of clips in no audience.")
    audiences: list[AudienceOut]


class TopicOut(BaseModel):
    id: str
    name: str
    description: str = ""
    examples: list[str] = Field(default_factory=list)
    sounds: list[str] = Field(default_factory=list)
    visuals: list[str] = Field(default_factory=list)


class TopicsResponse(BaseModel):
    count: int
    topics: list[TopicOut]


class IndexSummary(BaseModel):
    name: str
    clips: int | None = None
    audiences: int | None = None
    topics: int | None = None
    vector_dim: int = Field(description="Dimensions of the fused vectors it accepts.")
    blocks: dict[str, int] = Field(description="Block -> dimensions, in vector order.")


class HealthResponse(BaseModel):
    status: Literal["ok"]
    version: str
    index: IndexSummary
    models_ready: bool = Field(description="The encoders are loaded (first requests "
                                           "before that wait for them).")
    warmup_error: str | None = None
    encodes_running: int
    encodes_waiting: int
    auth: bool = Field(description="Whether /v1 endpoints need a bearer token.")


class FieldProblem(BaseModel):
    field: str
    message: str


class ErrorResponse(BaseModel):
    detail: str = Field(description="What is wrong and what to do, in one line.")
    errors: list[FieldProblem] | None = None
