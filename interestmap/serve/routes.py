"""The API's routes: HTTP in, :class:`~interestmap.serve.service.Service` calls, JSON out.

Each clip endpoint comes twice: a JSON route (a caption, or for nearest-audience a fused
vector) and a multipart twin at the same path plus ``/upload`` (the clip's media under
``file``, the same fields as text form fields). FastAPI parses and validates every body
with the models of :mod:`interestmap.serve.schemas` and documents them in the OpenAPI
document; the route classes bound and check the bytes before that.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form

from interestmap import __version__
from interestmap.serve.bodies import JsonRoute
from interestmap.serve.errors import ApiError, guard
from interestmap.serve.schemas import (
    AnalyzeForm,
    AnalyzeRequest,
    AnalyzeResponse,
    AudiencesResponse,
    ErrorResponse,
    HealthResponse,
    NearestAudienceForm,
    NearestAudienceRequest,
    NearestAudienceResponse,
    TopicsResponse,
    WhatIfForm,
    WhatIfRequest,
    WhatIfResponse,
)
from interestmap.serve.service import ServiceDep, clip_of, require_token, to_jsonable
from interestmap.serve.uploads import FORM_LIMITS, UploadRoute, saved_uploads

ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorResponse, "description": text} for code, text in (
        (400, "Malformed body (not JSON, NaN/Infinity, unreadable form)"),
        (401, "Missing or wrong bearer token (when the server has one)"),
        (413, "Body or upload larger than the server's limit"),
        (415, "Unsupported content type (JSON routes take JSON, /upload routes a form)"),
        (422, "Invalid fields (unknown field, wrong type, wrong vector dimension) or a clip "
              "that cannot be analysed"),
        (503, "Busy, or a model/tool the server needs is missing"),
    )
}
MULTIPART = Form(media_type="multipart/form-data")
NO_EDITS = ("no edits: send 'edits', e.g. [{\"kind\": \"language\", \"value\": \"es\"}], or "
            "upload a file under 'edit_media', 'edit_frames' or 'edit_audio' to "
            "/v1/whatif/upload")

_V1 = {"dependencies": [Depends(require_token)], "responses": ERRORS}
service_router = APIRouter(tags=["service"])
index_router = APIRouter(tags=["index"], **_V1)
json_router = APIRouter(tags=["clips"], route_class=JsonRoute, strict_content_type=False,
                        **_V1)
upload_router = APIRouter(tags=["clips (upload)"], route_class=UploadRoute,
                          form_limits=FORM_LIMITS, **_V1)


# Service and index ------------------------------------------------------------------------
@service_router.get("/healthz", response_model=HealthResponse,
                    summary="Is the server up, which index it serves, and are the models "
                            "loaded")
async def healthz(svc: ServiceDep) -> dict[str, Any]:
    index = svc.index
    counts = index.manifest.get("counts", {})
    layout = index.layout
    return {"status": "ok", "version": __version__,
            "index": {"name": Path(index.dir).name, "clips": counts.get("clips"),
                      "audiences": counts.get("audiences"), "topics": counts.get("topics"),
                      "vector_dim": layout.total_dim, "blocks": dict(layout.dims)},
            "models_ready": svc.models_ready, "warmup_error": svc.warmup_error,
            "encodes_running": svc.running, "encodes_waiting": svc.waiting,
            "auth": bool(svc.token)}


@index_router.get("/v1/audiences", response_model=AudiencesResponse,
                  summary="The audiences of the index")
def audiences(svc: ServiceDep) -> dict[str, Any]:
    info = guard(svc.index.info)
    return to_jsonable({"count": len(info["audiences"]), "clips": info["counts"].get("clips"),
                        "outlier_share": info.get("outlier_share"),
                        "audiences": info["audiences"]})


@index_router.get("/v1/topics", response_model=TopicsResponse,
                  summary="The declared topics of the index")
def topics(svc: ServiceDep) -> dict[str, Any]:
    items = guard(lambda: [t.as_dict() for t in svc.index.topics])
    return {"count": len(items), "topics": items}


# Clips as JSON -----------------------------------------------------------------------------
@json_router.post("/v1/nearest-audience", response_model=NearestAudienceResponse,
                  summary="The audiences a clip reaches, from a caption or a fused vector")
async def nearest_audience(req: NearestAudienceRequest, svc: ServiceDep) -> dict[str, Any]:
    """A clip described in words (``caption`` + ``language`` + ``geo``) or a fused
    ``vector``; upload media to ``/v1/nearest-audience/upload``."""
    filters = req.filters.model_dump(exclude_none=True) if req.filters else None
    if req.vector is not None:
        return await svc.nearest_by_vector(req.vector, req.k, req.k_clips, filters)
    clip = clip_of(req.caption, req.language, req.geo)
    return await svc.nearest_by_clip(clip, ocr=req.ocr, asr=req.asr, k=req.k,
                                     k_clips=req.k_clips, filters=filters)


@json_router.post("/v1/analyze", response_model=AnalyzeResponse,
                  summary="Declared topics, clarity, audiences, modality agreement and "
                          "advice for a caption-only post")
async def analyze_clip(req: AnalyzeRequest, svc: ServiceDep) -> dict[str, Any]:
    """Upload media to ``/v1/analyze/upload``."""
    clip = clip_of(req.caption, req.language, req.geo)
    return await svc.analyze(clip, k=req.k, k_clips=req.k_clips, ocr=req.ocr, asr=req.asr)


@json_router.post("/v1/whatif", response_model=WhatIfResponse,
                  summary="Try text edits (caption, language, geo, a block removed) and see "
                          "how far the clip moves")
async def whatif_clip(req: WhatIfRequest, svc: ServiceDep) -> dict[str, Any]:
    """Media swaps are uploads: see ``/v1/whatif/upload``."""
    if not req.edits:
        raise ApiError(422, NO_EDITS)
    clip = clip_of(req.caption, req.language, req.geo)
    return await svc.whatif(clip, [(e.kind, e.value) for e in req.edits],
                            combine=req.combine, k=req.k, ocr=req.ocr, asr=req.asr)


# Clips as uploads ---------------------------------------------------------------------------
@upload_router.post("/v1/nearest-audience/upload", response_model=NearestAudienceResponse,
                    summary="The audiences an uploaded clip reaches")
async def nearest_audience_upload(form: Annotated[NearestAudienceForm, MULTIPART],
                                  svc: ServiceDep) -> dict[str, Any]:
    async with saved_uploads([("file", f) for f in form.file], svc.max_upload_bytes) as up:
        clip = clip_of(form.caption, form.language, form.geo, up.files, up.names[0])
        return await svc.nearest_by_clip(clip, ocr=form.ocr, asr=form.asr, k=form.k,
                                         k_clips=form.k_clips, upload=up)


@upload_router.post("/v1/analyze/upload", response_model=AnalyzeResponse,
                    summary="Declared topics, clarity, audiences, modality agreement and "
                            "advice for an uploaded clip")
async def analyze_upload(form: Annotated[AnalyzeForm, MULTIPART], svc: ServiceDep
                         ) -> dict[str, Any]:
    async with saved_uploads([("file", f) for f in form.file], svc.max_upload_bytes) as up:
        clip = clip_of(form.caption, form.language, form.geo, up.files, up.names[0])
        return await svc.analyze(clip, k=form.k, k_clips=form.k_clips, ocr=form.ocr,
                                 asr=form.asr, upload=up)


@upload_router.post("/v1/whatif/upload", response_model=WhatIfResponse,
                    summary="Try edits, media swaps included, on an uploaded or described "
                            "clip")
async def whatif_upload(form: Annotated[WhatIfForm, MULTIPART], svc: ServiceDep
                        ) -> dict[str, Any]:
    """Each file under ``edit_media``, ``edit_frames`` or ``edit_audio`` is one variant,
    after the text edits in ``edits``."""
    file_edits = form.file_edits()
    if not form.edits and not file_edits:
        raise ApiError(422, NO_EDITS)
    async with saved_uploads([("file", f) for f in form.file] + file_edits,
                             svc.max_upload_bytes) as up:
        media = up.tagged("file")
        clip = clip_of(form.caption, form.language, form.geo, media,
                       up.names[0] if media else None)
        edits = [(e.kind, e.value) for e in form.edits]
        edits += [(tag, str(path)) for path, tag in zip(up.files, up.tags, strict=True)
                  if tag != "file"]
        return await svc.whatif(clip, edits, combine=form.combine, k=form.k, ocr=form.ocr,
                                asr=form.asr, upload=up)


ROUTERS = (service_router, index_router, json_router, upload_router)
"""Every router of the API, in the order the OpenAPI document lists them."""
