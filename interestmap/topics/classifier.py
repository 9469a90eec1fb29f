"""A topic classifier trained on labelled posts: a scikit-learn estimator.

A :class:`TopicClassifier` is a scikit-learn logistic regression on the text encoder's
sentence vectors. The encoder is multilingual, so a classifier trained on posts in one
language scores posts in the others. Its probabilities are blended with the zero-shot
scores of the declared topics (see ``topics.catalog.TopicSpace``) with a weight chosen by
cross-validation on the training posts, so topics it never saw still get a score.
An index keeps its classifier next to its data (:func:`save_index_classifier`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, clone

from interestmap.errors import ConfigError, EncoderMismatchError
from interestmap.learn.validation import check_fitted, check_int
from interestmap.topics.scoring import TopicSpace

if TYPE_CHECKING:
    from interestmap.index.interest_index import InterestIndex

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
_FORMAT = 2  # 2: a scikit-learn estimator in topics.classifier


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


class TopicClassifier(ClassifierMixin, BaseEstimator):
    """Logistic regression on sentence vectors: a scikit-learn classifier of posts.

    ``X`` is a list of texts (embedded with ``text_encoder``) or an ``(n, d)`` array of
    vectors from that encoder; ``y`` a topic label (a string) or a list of labels per post
    (a post with k labels counts 1/k for each). It follows scikit-learn's contract, so
    ``clone``, ``Pipeline`` and ``GridSearchCV`` (e.g. over ``C``) work on it.

    Parameters
    ----------
    C : inverse regularisation strength, > 0; None = chosen from :data:`C_GRID` by
        ``cv``-fold cross-validation (macro-F1), or :data:`DEFAULT_C` on too few posts.
    blend : the classifier's share against the zero-shot scores, in [0, 1]; None = chosen
        from :data:`BLEND_GRID` by cross-validation when ``fit`` gets ``zero_shot``, else
        :data:`DEFAULT_BLEND`.
    class_weight : "balanced" (default), None or a ``{label: weight}`` dict.
    cv : folds of the cross-validation (< 2: none).
    max_iter : iterations of the logistic regression solver.
    random_state : seed of the folds and the solver.
    text_encoder : a text encoder object, a registry name, or None (the registry
        default). A loaded model is shared, not copied, by ``clone``.

    Learned: ``classes_``, ``C_``, ``blend_``, ``temperature_`` (a softmax temperature
    fitted on the out-of-fold predictions, which calibrates the probabilities),
    ``model_`` (the fitted ``LogisticRegression``), ``encoder_info_``, ``cv_scores_``,
    ``n_posts_``.
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

    def __sklearn_clone__(self) -> TopicClassifier:
        """An unfitted copy with the same parameters; the text encoder (a loaded model) is
        shared, not deep-copied."""
        params = {k: v if k == "text_encoder" else clone(v, safe=False)
                  for k, v in self.get_params(deep=False).items()}
        return type(self)(**params)

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.string = True  # X may be a list of texts (or a matrix of vectors)
        return tags

    def _validate_params(self) -> None:
        """Check every parameter, naming the wrong one (called by :meth:`fit`)."""
        if self.C is not None and (isinstance(self.C, bool) or
                                   not isinstance(self.C, int | float | np.number) or
                                   not np.isfinite(self.C) or not self.C > 0):
            raise ConfigError(f"C must be a number > 0 (or None), got {self.C!r}")
        if self.blend is not None and (isinstance(self.blend, bool) or
                                       not isinstance(self.blend, int | float | np.number) or
                                       not 0.0 <= self.blend <= 1.0):
            raise ConfigError(f"blend must be between 0 and 1 (or None), got {self.blend!r}")
        if not (self.class_weight is None or self.class_weight == "balanced"
                or isinstance(self.class_weight, dict)):
            raise ConfigError("class_weight must be 'balanced', None or a {label: weight} "
                              f"dict, got {self.class_weight!r}")
        check_int("cv", self.cv, 0)
        check_int("max_iter", self.max_iter, 1)
        if self.random_state is not None:
            check_int("random_state", self.random_state, 0)
        te = self.text_encoder
        if not (te is None or isinstance(te, str) or hasattr(te, "encode")):
            raise ConfigError("text_encoder must be a text encoder, a registry name or None, "
                              f"got {type(te).__name__}")

    # Encoder ---------------------------------------------------------------------------
    def _encoder(self) -> Any:
        from interestmap.encoders.registry import get_text_encoder

        te = self.text_encoder
        if te is None or isinstance(te, str):
            # the registry shares one loaded model per name and process
            name = te or (self.encoder_info_["name"] if hasattr(self, "encoder_info_") else None)
            return get_text_encoder(name)
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
        self._validate_params()
        if y is None:
            raise ConfigError("TopicClassifier requires y to be passed, but the target y is "
                              "None: give each post's topic label(s)")
        labels = [[str(y_i)] if isinstance(y_i, str) or np.ndim(y_i) == 0
                  else [str(v) for v in y_i] for y_i in y]
        if len(labels) != (len(X) if not isinstance(X, np.ndarray) else X.shape[0]):
            raise ConfigError("X and y must have one entry per post")
        if any(not ls for ls in labels):
            raise ConfigError("every training post needs at least one label")
        classes = sorted({lab for ls in labels for lab in ls})
        if len(classes) < 2:
            raise ConfigError("training needs posts of at least two different topics")
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
        check_fitted(self, "model_", hint="call fit() with labelled posts first")

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
        self._check_fitted()
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
        state = dict(super().__getstate__())  # a copy: the object keeps its encoder
        te = state.get("text_encoder")
        if not isinstance(te, str | None):
            # models are not pickled: the encoder's registry name is, and resolves on load
            info = getattr(te, "info", None)
            state["text_encoder"] = getattr(info, "name", None)
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


def load_index_classifier(index: InterestIndex) -> TopicClassifier | None:
    """The classifier saved with an index (checked against its text encoder), or None."""
    p = classifier_path(index.dir)
    if not p.is_file():
        return None
    clf = TopicClassifier.load(p)
    info = index.layout.encoders.get("caption")
    if info:
        clf.check_encoder(info)
    return clf


def save_index_classifier(index: InterestIndex, classifier: TopicClassifier) -> Path:
    """Save a classifier with an index, so analysis of that index uses it."""
    info = index.layout.encoders.get("caption")
    if info:
        classifier.check_encoder(info)
    return classifier.save(classifier_path(index.dir))
