"""Topic classifiers trained on labelled posts, and fast batch classification of texts.

A :class:`TopicClassifier` is a scikit-learn logistic regression on the text encoder's
sentence vectors. The encoder is multilingual, so a classifier trained on posts in one
language scores posts in the others. Its probabilities are blended with the zero-shot
scores of the declared topics (see ``topics.TopicSpace``) with a weight chosen by
cross-validation on the training posts, so topics it never saw still get a score.

:func:`classify_stream` reads JSONL ``{"id", "text"}`` lines in batches and writes one
result per line, in bounded memory: what ``interestmap classify`` runs.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np

from interestmap.errors import ConfigError, EncoderMismatchError, InterestmapError
from interestmap.topics.catalog import Topic, slugify
from interestmap.topics.scoring import (
    MATCH_MAX_TOPICS,
    MATCH_MIN_PROBABILITY,
    TopicSpace,
    select_topics,
)

CLASSIFIER_FILE = "topic_classifier.joblib"
"""Name of a classifier saved inside an index folder."""

C_GRID: tuple[float, ...] = (0.3, 1.0, 3.0, 10.0, 30.0)
"""Inverse regularisation strengths tried by cross-validation."""
BLEND_GRID: tuple[float, ...] = (0.0, 0.25, 0.5, 0.75, 1.0)
"""Classifier shares tried by cross-validation (0 = zero-shot only, 1 = classifier only)."""
DEFAULT_C = 3.0
"""Used when there are too few posts to cross-validate; best on X-Topic en_train."""
DEFAULT_BLEND = 0.5
MAX_CV_ITEMS = 5000
"""Cross-validation runs on at most this many posts (a random subset); the final fit
uses all of them."""
_FORMAT = 1


# Labelled data -------------------------------------------------------------------------
@dataclass
class LabelledPosts:
    """Training posts: texts, their label lists, and the line each came from."""

    texts: list[str]
    labels: list[list[str]]
    lines: list[int]


def read_labelled(path: str | Path) -> LabelledPosts:
    """Read JSONL ``{"text", "label"}`` lines (``label`` a name or a list of names).

    Raises :class:`ConfigError` naming the line of the first malformed one: training
    data is small and should be right, unlike a stream of texts to classify.
    """
    p = Path(path).expanduser()
    where = f"training file {str(p)!r}"
    if not p.is_file():
        raise ConfigError(f"{where} not found: give a JSONL file of "
                          '{"text": ..., "label": ...} lines')
    texts, labels, lines = [], [], []
    try:
        with p.open(encoding="utf-8-sig") as f:
            for line_no, raw in enumerate(f, start=1):
                if not raw.strip():
                    continue
                obj = _json_line(raw, line_no, where)
                text = obj.get("text")
                if not isinstance(text, str) or not text.strip():
                    raise ConfigError(f"{where}, line {line_no}: no \"text\"; every line needs "
                                      '{"text": ..., "label": ...}')
                lab = obj.get("label", obj.get("labels"))
                if isinstance(lab, str | int) and str(lab).strip():
                    labs = [str(lab).strip()]
                elif isinstance(lab, list) and lab and all(
                        isinstance(x, str | int) and str(x).strip() for x in lab):
                    labs = [str(x).strip() for x in lab]
                else:
                    raise ConfigError(f"{where}, line {line_no}: \"label\" must be a topic name "
                                      "or a list of topic names")
                texts.append(text)
                labels.append(labs)
                lines.append(line_no)
    except UnicodeDecodeError:
        raise ConfigError(f"{where} is not UTF-8 text: save it as UTF-8") from None
    except OSError as e:
        raise ConfigError(f"cannot read {where}: {e.strerror or e}") from None
    if not texts:
        raise ConfigError(f"{where} has no labelled posts")
    return LabelledPosts(texts, labels, lines)


def _json_line(raw: str, line_no: int, where: str) -> dict[str, Any]:
    try:
        obj = json.loads(raw)
    except json.JSONDecodeError as e:
        raise ConfigError(f"{where}, line {line_no}: not valid JSON ({e.msg} at column "
                          f"{e.colno})") from None
    if not isinstance(obj, dict):
        raise ConfigError(f"{where}, line {line_no}: expected a JSON object, got "
                          f"{type(obj).__name__}")
    return obj


def _key(label: str) -> str:
    return slugify(label) or label.casefold().strip()


def topics_from_labels(labels: Iterable[Sequence[str]]) -> list[Topic]:
    """One topic per distinct label (in order of first use), named and id'd as written."""
    seen: dict[str, Topic] = {}
    for labs in labels:
        for lab in labs:
            seen.setdefault(_key(lab), Topic(id=lab, name=lab, description=lab))
    return list(seen.values())


def resolve_labels(posts: LabelledPosts, topics: Sequence[Topic],
                   where: str = "the training file") -> list[list[str]]:
    """Each post's labels as topic ids; a label may be a topic's id or name (any case).

    Raises :class:`ConfigError` naming the line of a label that is no declared topic.
    """
    lookup: dict[str, str] = {}
    for t in topics:
        lookup.setdefault(_key(t.id), t.id)
        lookup.setdefault(_key(t.name), t.id)
    out = []
    for labs, line in zip(posts.labels, posts.lines, strict=True):
        ids = []
        for lab in labs:
            tid = lookup.get(_key(lab))
            if tid is None:
                shown = ", ".join(t.name for t in topics[:8]) + (", ..." if len(topics) > 8 else "")
                raise ConfigError(f"{where}, line {line}: label {lab!r} is not one of the "
                                  f"declared topics ({shown}); use a topic's name or id")
            if tid not in ids:
                ids.append(tid)
        out.append(ids)
    return out


# The classifier ------------------------------------------------------------------------
def _expand(labels: Sequence[Sequence[str]]) -> tuple[np.ndarray, list[str], np.ndarray]:
    """Multi-label posts as weighted single-label rows: (row -> post, label, weight)."""
    rows, labs, w = [], [], []
    for i, ls in enumerate(labels):
        for lab in ls:
            rows.append(i)
            labs.append(lab)
            w.append(1.0 / len(ls))
    return np.array(rows, dtype=int), labs, np.array(w, dtype=np.float64)


def _top1_macro_f1(proba: np.ndarray, gold: np.ndarray) -> float:
    """Macro-F1 of one predicted label per post against (multi-label) gold indicators."""
    from sklearn.metrics import f1_score

    pred = np.zeros_like(gold)
    pred[np.arange(len(gold)), proba.argmax(axis=1)] = 1
    return float(f1_score(gold, pred, average="macro", zero_division=0))


class TopicClassifier:
    """Logistic regression on sentence vectors: ``fit`` / ``predict`` / ``predict_proba``.

    ``X`` is a list of texts (embedded with ``text_encoder``, the registry default when
    None) or an ``(n, d)`` array of vectors from that encoder; ``y`` a label or a list of
    labels per post (a post with k labels counts 1/k for each). ``C`` and ``blend`` are
    chosen by 5-fold cross-validation (macro-F1) when left as None; ``blend`` needs the
    zero-shot scorer passed to :meth:`fit`. A softmax temperature fitted on the
    out-of-fold predictions (``temperature_``) calibrates the probabilities. Learned
    state ends in ``_``.
    """

    def __init__(self, C: float | None = None, blend: float | None = None,  # noqa: N803
                 class_weight: str | None = "balanced", cv: int = 5, max_iter: int = 3000,
                 random_state: int = 0, text_encoder: Any = None) -> None:
        self.C = C
        self.blend = blend
        self.class_weight = class_weight
        self.cv = cv
        self.max_iter = max_iter
        self.random_state = random_state
        self.text_encoder = text_encoder

    # Encoder ---------------------------------------------------------------------------
    def _encoder(self) -> Any:
        from interestmap.encoders.registry import get_text_encoder

        te = self.text_encoder
        if te is None or isinstance(te, str):
            name = te or (self.encoder_info_["name"] if hasattr(self, "encoder_info_") else None)
            te = get_text_encoder(name)
            self.text_encoder = te
        return te

    def _vectors(self, X: Sequence[str] | np.ndarray, batch_size: int = 64) -> np.ndarray:  # noqa: N803
        if isinstance(X, np.ndarray):
            v = np.atleast_2d(np.asarray(X, dtype=np.float32))
            if hasattr(self, "encoder_info_") and v.shape[1] != self.encoder_info_["dim"]:
                raise EncoderMismatchError(
                    f"the vectors have {v.shape[1]} dims; this classifier was trained on "
                    f"{self.encoder_info_['name']} vectors ({self.encoder_info_['dim']}-d)")
            return v
        return self._encoder().encode([str(t or "") for t in X], batch_size=batch_size)

    def check_encoder(self, info: Any) -> None:
        """Refuse a text encoder other than the one the classifier was trained with."""
        self._check_fitted()
        mine = self.encoder_info_
        theirs = info.as_dict() if hasattr(info, "as_dict") else dict(info)
        if (mine["name"], mine["dim"]) != (theirs["name"], int(theirs["dim"])):
            raise EncoderMismatchError(
                f"this topic classifier was trained on {mine['name']} ({mine['dim']}-d) "
                f"vectors, but the text encoder here is {theirs['name']} ({theirs['dim']}-d); "
                "train it again with this encoder")

    # Fitting ---------------------------------------------------------------------------
    def fit(self, X: Sequence[str] | np.ndarray, y: Sequence[str | Sequence[str]],  # noqa: N803
            zero_shot: TopicSpace | None = None) -> TopicClassifier:
        """Learn from labelled posts; with ``zero_shot``, also learn how much to trust
        the classifier against the zero-shot scores (``blend_``)."""
        labels = [[y_i] if isinstance(y_i, str) else [str(v) for v in y_i] for y_i in y]
        if len(labels) != (len(X) if not isinstance(X, np.ndarray) else X.shape[0]):
            raise ConfigError("X and y must have one entry per post")
        if any(not ls for ls in labels):
            raise ConfigError("every training post needs at least one label")
        classes = sorted({lab for ls in labels for lab in ls})
        if len(classes) < 2:
            raise ConfigError("training needs posts of at least two different topics")
        if self.C is not None and not self.C > 0:
            raise ConfigError(f"C must be > 0, got {self.C}")
        if self.blend is not None and not 0.0 <= self.blend <= 1.0:
            raise ConfigError(f"blend must be between 0 and 1, got {self.blend}")
        vecs = self._vectors(X)
        self.encoder_info_ = self._encoder().info.as_dict()
        self.classes_ = np.array(classes, dtype=object)
        gold = np.array([[c in ls for c in classes] for ls in labels], dtype=int)
        zs = None
        if zero_shot is not None:
            missing = [c for c in classes if c not in zero_shot.ids]
            if missing:
                raise ConfigError(f"labels {missing[:5]} are not ids of the declared topics")
            cols = [zero_shot.ids.index(c) for c in classes]
            zs = zero_shot.proba("caption", vecs)
            zs = zs[:, cols] / np.maximum(zs[:, cols].sum(axis=1, keepdims=True), 1e-12)
        self.cv_scores_: dict[str, float] = {}
        folds = self._folds(len(labels))
        oof = held = None
        if self.C is not None:
            self.C_ = float(self.C)
            if folds is not None:
                oof, held = self._oof_proba(vecs, labels, self.C_, folds)
        elif folds is not None:
            self.C_, oof, held = self._choose_c(vecs, labels, gold, folds)
        else:
            self.C_ = DEFAULT_C
        # Logistic regression at the C that ranks topics best is often far too flat (all
        # topics near 1/k at C=0.3); one temperature fitted on the out-of-fold
        # predictions makes its probabilities honest.
        self.temperature_ = 1.0
        if oof is not None:
            from interestmap.topics.calibration import fit_temperature

            self.temperature_ = fit_temperature(np.log(np.maximum(oof, 1e-12)),
                                                gold[held].astype(bool))
            oof = self._calibrate(oof)
        if self.blend is not None:
            self.blend_ = float(self.blend)
        elif zs is not None and oof is not None:
            self.blend_ = self._choose_blend(oof, held, gold, zs)
        else:
            self.blend_ = DEFAULT_BLEND
        self.model_ = self._fit_lr(vecs, labels, self.C_)
        self.n_posts_ = len(labels)
        return self

    def _calibrate(self, proba: np.ndarray) -> np.ndarray:
        from scipy.special import softmax

        if getattr(self, "temperature_", 1.0) == 1.0:
            return proba
        return softmax(np.log(np.maximum(proba, 1e-12)) / self.temperature_, axis=-1)

    def _fit_lr(self, vecs: np.ndarray, labels: Sequence[Sequence[str]], c: float) -> Any:
        from sklearn.linear_model import LogisticRegression
        from threadpoolctl import threadpool_limits

        rows, labs, w = _expand(labels)
        model = LogisticRegression(C=c, class_weight=self.class_weight,
                                   max_iter=self.max_iter, random_state=self.random_state)
        # One BLAS thread: these matrices are small, and on a busy machine threaded BLAS
        # made each fit 10-20x slower (measured on 2 cores under load).
        with threadpool_limits(limits=1, user_api="blas"):
            return model.fit(vecs[rows], np.array(labs, dtype=object), sample_weight=w)

    def _folds(self, n: int) -> list[tuple[np.ndarray, np.ndarray]] | None:
        from sklearn.model_selection import KFold

        if self.cv < 2 or n < max(4 * self.cv, 20):
            return None
        rng = np.random.default_rng(self.random_state)
        idx = rng.permutation(n)[:MAX_CV_ITEMS]
        kf = KFold(n_splits=self.cv, shuffle=True, random_state=self.random_state)
        return [(idx[a], idx[b]) for a, b in kf.split(idx)]

    def _oof_proba(self, vecs: np.ndarray, labels: Sequence[Sequence[str]], c: float,
                   folds: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
        """Out-of-fold probabilities over ``classes_`` and the rows they belong to."""
        classes = list(self.classes_)
        held = np.concatenate([b for _, b in folds])
        out = np.zeros((len(held), len(classes)))
        pos = 0
        for train, test in folds:
            train_labels = [labels[i] for i in train]
            if len({lab for ls in train_labels for lab in ls}) < 2:
                out[pos:pos + len(test)] = 1.0 / len(classes)
            else:
                model = self._fit_lr(vecs[train], train_labels, c)
                cols = [classes.index(k) for k in model.classes_]
                out[pos:pos + len(test), cols] = model.predict_proba(vecs[test])
            pos += len(test)
        return out, held

    def _choose_c(self, vecs: np.ndarray, labels: Sequence[Sequence[str]], gold: np.ndarray,
                  folds: list[tuple[np.ndarray, np.ndarray]]
                  ) -> tuple[float, np.ndarray, np.ndarray]:
        """The C of :data:`C_GRID` with the best out-of-fold macro-F1, and its predictions."""
        best = (-1.0, DEFAULT_C, None, None)
        for c in C_GRID:
            proba, held = self._oof_proba(vecs, labels, c, folds)
            score = _top1_macro_f1(proba, gold[held])
            self.cv_scores_[f"C={c:g}"] = round(score, 4)
            if score > best[0] + 1e-9:
                best = (score, c, proba, held)
        return best[1], best[2], best[3]

    def _choose_blend(self, oof: np.ndarray, held: np.ndarray, gold: np.ndarray,
                      zs: np.ndarray) -> float:
        """The classifier share of :data:`BLEND_GRID` with the best out-of-fold macro-F1."""
        best, best_a = -1.0, DEFAULT_BLEND
        for a in BLEND_GRID:
            score = _top1_macro_f1((1 - a) * zs[held] + a * oof, gold[held])
            self.cv_scores_[f"blend={a:g}"] = round(score, 4)
            if score > best + 1e-9:
                best, best_a = score, a
        return best_a

    # Predicting ------------------------------------------------------------------------
    def _check_fitted(self) -> None:
        if not hasattr(self, "model_"):
            raise ConfigError("this topic classifier is not trained yet: call fit() first")

    def predict_proba(self, X: Sequence[str] | np.ndarray) -> np.ndarray:  # noqa: N803
        """``(n, n_classes)`` probabilities over ``classes_``."""
        self._check_fitted()
        vecs = self._vectors(X)
        if len(vecs) == 0:
            return np.zeros((0, len(self.classes_)))
        p = self.model_.predict_proba(vecs)
        cols = [list(self.classes_).index(k) for k in self.model_.classes_]
        out = np.zeros((len(vecs), len(self.classes_)))
        out[:, cols] = p
        return self._calibrate(out)

    def predict(self, X: Sequence[str] | np.ndarray) -> np.ndarray:  # noqa: N803
        """The likeliest label of each post."""
        return self.classes_[self.predict_proba(X).argmax(axis=1)]

    def proba_over(self, vectors: np.ndarray, topic_ids: Sequence[str]) -> np.ndarray:
        """``(n, len(topic_ids))`` probabilities laid out over ``topic_ids`` (0 for topics
        the classifier never saw)."""
        p = self.predict_proba(vectors)
        out = np.zeros((p.shape[0], len(topic_ids)))
        pos = {t: j for j, t in enumerate(topic_ids)}
        for k, c in enumerate(self.classes_):
            if c in pos:
                out[:, pos[c]] = p[:, k]
        return out

    def blend_with(self, zero_shot: np.ndarray, vectors: np.ndarray,
                   topic_ids: Sequence[str], blend: float | None = None) -> np.ndarray:
        """``(1 - blend) * zero_shot + blend * classifier`` over ``topic_ids``."""
        a = self.blend_ if blend is None else float(blend)
        if a <= 0 or not set(topic_ids) & {str(c) for c in self.classes_}:
            return zero_shot  # the classifier knows none of these topics
        out = (1 - a) * np.asarray(zero_shot) + a * self.proba_over(vectors, topic_ids)
        return out / np.maximum(out.sum(axis=1, keepdims=True), 1e-12)

    # Saving ----------------------------------------------------------------------------
    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        if not isinstance(state.get("text_encoder"), str | None):
            state["text_encoder"] = None  # models are not pickled; resolved by name on load
        return state

    def save(self, path: str | Path) -> Path:
        """Write the classifier to ``path`` atomically (temp file, fsync, rename)."""
        import joblib

        from interestmap._io import atomic_writer

        self._check_fitted()
        p = Path(path).expanduser()
        p.parent.mkdir(parents=True, exist_ok=True)
        with atomic_writer(p) as fh:
            joblib.dump({"format": _FORMAT, "classifier": self}, fh)
        return p

    @classmethod
    def load(cls, path: str | Path) -> TopicClassifier:
        """A classifier saved by :meth:`save`; :class:`ConfigError` if unreadable."""
        import joblib

        p = Path(path).expanduser()
        if not p.is_file():
            raise ConfigError(f"topic classifier {str(p)!r} not found: train one with "
                              "`interestmap classify --train LABELLED.jsonl --save-classifier FILE`")
        try:
            obj = joblib.load(p)
        except Exception as e:  # a broken or foreign pickle: one line, not a traceback
            raise ConfigError(f"topic classifier {str(p)!r} is unreadable "
                              f"({type(e).__name__}); train it again") from None
        if not isinstance(obj, dict) or obj.get("format") != _FORMAT or \
                not isinstance(obj.get("classifier"), cls):
            raise ConfigError(f"{str(p)!r} is not a topic classifier saved by this version "
                              "of interestmap; train it again")
        return obj["classifier"]

    def describe(self) -> dict[str, Any]:
        """What was learned: classes, chosen C and blend, cross-validation scores."""
        self._check_fitted()
        return {"classes": [str(c) for c in self.classes_], "C": self.C_, "blend": self.blend_,
                "temperature": round(getattr(self, "temperature_", 1.0), 4),
                "posts": self.n_posts_, "encoder": self.encoder_info_,
                "cv_macro_f1": self.cv_scores_}


def classifier_path(index_dir: str | Path) -> Path:
    """Where an index keeps its topic classifier."""
    return Path(index_dir) / CLASSIFIER_FILE


def load_index_classifier(index: Any) -> TopicClassifier | None:
    """The classifier saved with an index (checked against its text encoder), or None."""
    p = classifier_path(index.dir)
    if not p.is_file():
        return None
    clf = TopicClassifier.load(p)
    info = index.layout.encoders.get("caption")
    if info:
        clf.check_encoder(info)
    return clf


def save_index_classifier(index: Any, classifier: TopicClassifier) -> Path:
    """Save a classifier with an index, so analysis of that index uses it."""
    info = index.layout.encoders.get("caption")
    if info:
        classifier.check_encoder(info)
    return classifier.save(classifier_path(index.dir))


# Batch classification ------------------------------------------------------------------
@dataclass
class InputLine:
    """One text to classify and where it came from."""

    line: int
    id: Any
    text: str


def iter_input_batches(stream: Iterable[str], batch_size: int = 256, *,
                       strict: bool = False,
                       warn: Callable[[str], None] | None = None) -> Iterator[list[InputLine]]:
    """JSONL ``{"id", "text"}`` lines in batches; ``id`` defaults to the line number.

    A malformed line (not JSON, no text) is skipped with a warning naming its line, so
    one bad line does not lose a long run; ``strict=True`` raises :class:`ConfigError`
    instead. Blank lines are ignored.
    """
    batch: list[InputLine] = []
    for line_no, raw in enumerate(stream, start=1):
        if not raw.strip():
            continue
        try:
            obj = _json_line(raw, line_no, "input")
            text = obj.get("text")
            if not isinstance(text, str) or not text.strip():
                raise ConfigError(f"input, line {line_no}: no \"text\" to classify")
        except ConfigError as e:
            if strict:
                raise
            if warn is not None:
                warn(f"{e}; line skipped")
            continue
        batch.append(InputLine(line_no, obj.get("id", line_no), text))
        if len(batch) >= batch_size:
            yield batch
            batch = []
    if batch:
        yield batch


@dataclass
class ClassifyStats:
    """What a classify run did."""

    classified: int = 0
    skipped: int = 0
    seconds: float = 0.0


def classify_stream(stream: Iterable[str], out: IO[str], space: TopicSpace,
                    classifier: TopicClassifier | None = None, *, mode: str = "blend",
                    blend: float | None = None, batch_size: int = 256, top: int | None = None,
                    as_json: bool = True, strict: bool = False,
                    min_probability: float = MATCH_MIN_PROBABILITY,
                    max_topics: int = MATCH_MAX_TOPICS,
                    warn: Callable[[str], None] | None = None) -> ClassifyStats:
    """Classify JSONL texts from ``stream`` into ``out``, one line per input, in batches.

    ``mode``: ``"zero-shot"``, ``"classifier"`` or ``"blend"`` (the classifier's
    cross-validated blend, or ``blend``). Output lines are JSON ``{"id", "topic",
    "name", "score", "topics", "scores"}`` (``as_json``) or
    ``id<TAB>topic<TAB>score<TAB>topics``: ``topic`` is the likeliest topic, ``topics``
    every topic the text is about (:func:`~interestmap.topics.scoring.select_topics` with
    ``min_probability`` and ``max_topics``; ``|``-separated in the tab form).
    """
    import time

    if mode not in ("zero-shot", "classifier", "blend"):
        raise ConfigError("mode must be 'zero-shot', 'classifier' or 'blend'")
    if mode != "zero-shot" and classifier is None:
        if mode == "classifier":
            raise ConfigError("mode 'classifier' needs a trained classifier: give --train "
                              "or --classifier")
        mode = "zero-shot"
    if classifier is not None:
        classifier.check_encoder(space.text_encoder.info)
    a = {"zero-shot": 0.0, "classifier": 1.0}.get(mode, blend)
    stats = ClassifyStats()
    t0 = time.perf_counter()
    bad = 0

    def _warn(msg: str) -> None:
        nonlocal bad
        bad += 1
        if warn is not None:
            warn(msg)

    select_topics(np.zeros(1), min_probability=min_probability, max_topics=max_topics)
    ids, names = space.ids, [t.name for t in space.topics]
    k = len(ids) if top is None else max(1, min(int(top), len(ids)))
    for batch in iter_input_batches(stream, batch_size, strict=strict, warn=_warn):
        vecs = space.text_encoder.encode([b.text for b in batch], batch_size=64)
        p = space.proba("caption", vecs)
        if classifier is not None and (a is None or a > 0):
            p = classifier.blend_with(p, vecs, ids, blend=a)
        about = select_topics(p, min_probability=min_probability, max_topics=max_topics)
        lines = []
        for item, row, mask in zip(batch, p, about, strict=True):
            order = np.argsort(-row, kind="stable")
            j = int(order[0])
            matched = [ids[i] for i in order if mask[i]]
            if as_json:
                rec = {"id": item.id, "topic": ids[j], "name": names[j],
                       "score": round(float(row[j]), 4), "topics": matched,
                       "scores": {ids[i]: round(float(row[i]), 4) for i in order[:k]}}
                lines.append(json.dumps(rec, ensure_ascii=False))
            else:
                lines.append(f"{item.id}\t{ids[j]}\t{row[j]:.3f}\t{'|'.join(matched)}")
        out.write("\n".join(lines) + "\n")
        out.flush()
        stats.classified += len(batch)
    stats.skipped = bad
    stats.seconds = time.perf_counter() - t0
    if stats.classified == 0 and bad:
        raise InterestmapError(f"no line could be classified ({bad} malformed): each line must "
                               'be a JSON object like {"id": 1, "text": "..."}')
    return stats
