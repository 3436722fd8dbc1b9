"""Whether the reports answer a question: a logistic model over what search already measures of its best
passages, fitted on question sets whose answers are known (`python -m eval.calibrate` fits it and prints the
model for ABSTENTION_MODELS in retriever/search.py).

The features (the signals of retriever/search.py's confidence):
- dense: the dense score of the passage closest in words and meaning;
- coverage: the IDF-weighted share of the question's words that one of the top passages holds;
- typed_coverage: for a "how many" / "when" question, the share one sentence stating a quantity or date holds
  (the coverage otherwise);
- asks_quantity: 1 for such a question, else 0;
- unknown_share: the IDF-weighted share of the question's words that no chunk holds at all;
- question_form: the log-odds that a question so worded is answerable, from its words alone
  (retriever/question_form.py).
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping, Sequence

import numpy as np

FEATURES = ("dense", "coverage", "typed_coverage", "asks_quantity", "unknown_share", "question_form")
# An archive's own abstention model, at the index's root (`python -m eval.calibrate --save`)
CALIBRATION_FILE = "abstention.json"


@dataclass(frozen=True)
class AbstentionModel:
    """P(the reports answer) = sigmoid(intercept + coefficients . features), on the raw features (FEATURES'
    order); below `threshold` the reports are taken not to answer."""

    coefficients: tuple[float, ...]
    intercept: float
    threshold: float

    def __post_init__(self):
        if len(self.coefficients) != len(FEATURES):
            raise ValueError(f"one coefficient per feature ({', '.join(FEATURES)}), got {len(self.coefficients)}")

    def probability(self, features: Mapping[str, float]) -> float:
        z = self.intercept + sum(c * float(features[name]) for c, name in zip(self.coefficients, FEATURES))
        return 1.0 / (1.0 + math.exp(-z)) if z >= 0 else math.exp(z) / (1.0 + math.exp(z))  # no overflow


def fit_logistic(features: Sequence[Mapping[str, float]], answered: Sequence[bool],
                 l2: float = 1.0, iterations: int = 50) -> tuple[tuple[float, ...], float]:
    """Coefficients (on the raw features) and intercept of an L2-regularised logistic regression of `answered`
    on `features`, fitted by Newton's method on standardised features (the penalty spares the intercept)."""
    x = np.array([[float(f[name]) for name in FEATURES] for f in features], dtype=np.float64)
    y = np.array(answered, dtype=np.float64)
    if len(x) == 0 or y.min() == y.max():
        raise ValueError("fitting needs questions the reports answer and questions they do not")
    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale[scale == 0] = 1.0  # a constant feature gets no weight from the data; the penalty keeps it at 0
    z = np.hstack([(x - mean) / scale, np.ones((len(x), 1))])
    penalty = np.diag([l2] * len(FEATURES) + [0.0])
    w = np.zeros(z.shape[1])
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-(z @ w)))
        gradient = z.T @ (p - y) + penalty @ w
        hessian = (z * (p * (1 - p))[:, None]).T @ z + penalty + 1e-9 * np.eye(len(w))
        step = np.linalg.solve(hessian, gradient)
        w -= step
        if np.abs(step).max() < 1e-10:
            break
    coefficients = w[:-1] / scale
    intercept = w[-1] - float(coefficients @ mean)
    return tuple(float(c) for c in coefficients), float(intercept)


def threshold_for(scores: Sequence[float], answerable: Sequence[bool], always_answered: Sequence[bool],
                  max_false_abstention: float = 0.05) -> float:
    """The threshold that abstains on the most unanswerable questions while abstaining on at most
    max_false_abstention of the answerable ones (ties: the lowest such threshold), placed midway between
    the highest score that abstains and the next score above it. Questions always answered (the reports
    define what they ask) never abstain."""
    s = np.asarray(scores, dtype=np.float64)
    a = np.asarray(answerable, dtype=bool)
    free = ~np.asarray(always_answered, dtype=bool)
    if not a.any() or a.all():
        raise ValueError("choosing a threshold needs answerable and unanswerable questions")
    levels = np.unique(s[free])
    best_level, best_abstention = None, -1.0
    for level in levels:  # abstain on every free question scoring <= level
        abstains = free & (s <= level)
        if abstains[a].mean() > max_false_abstention:
            break  # higher levels only abstain on more
        if abstains[~a].mean() > best_abstention:
            best_level, best_abstention = level, abstains[~a].mean()
    if best_level is None:
        return float(levels[0]) if len(levels) else 0.0  # abstain on nothing
    above = s[s > best_level]
    return float((best_level + above.min()) / 2) if len(above) else float(best_level) + 1e-6


@dataclass(frozen=True)
class Calibration:
    """An abstention model fitted on an archive's own questions for the model that embeds its index. The built-in
    models were fitted for the model adapted to the shipped reports; a model adapted to another archive scores
    questions higher or lower (over the same questions, the mean dense score of the answerable ones was 0.512 for
    one adapted model and 0.617 and 0.745 for two others), so their threshold abstains less there. It applies while
    the index is embedded by `model`, not once a rebuild adapts another."""

    model: str
    abstention: AbstentionModel
    fitted_on: str = ""  # the questions, for people reading the file


def write_calibration(root: Path, calibration: Calibration) -> Path:
    """Save `calibration` at the index's root, whole or not at all (written aside, then renamed)."""
    path = root / CALIBRATION_FILE
    model = calibration.abstention
    data = {"model": calibration.model, "fitted_on": calibration.fitted_on, "features": list(FEATURES),
            "coefficients": list(model.coefficients), "intercept": model.intercept, "threshold": model.threshold}
    aside = path.with_name(path.name + ".tmp")
    aside.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    aside.replace(path)
    return path


def read_calibration(root: Path) -> Calibration | None:
    """The archive's own calibration saved at the index's root; None if there is none. ValueError, naming the
    file, if it cannot be read."""
    path = root / CALIBRATION_FILE
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("features", list(FEATURES)) != list(FEATURES):
            raise ValueError(f"its features are {data['features']}, not {list(FEATURES)}")
        model = AbstentionModel(tuple(float(c) for c in data["coefficients"]), float(data["intercept"]),
                                float(data["threshold"]))
        if not all(math.isfinite(v) for v in (*model.coefficients, model.intercept, model.threshold)):
            raise ValueError("it holds a number that is not finite")
        return Calibration(str(data["model"]), model, str(data.get("fitted_on", "")))
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"the abstention calibration {path} cannot be read ({exc}); the built-in model is used "
                         "instead: fit it again with `python -m eval.calibrate --save`") from exc


def load_calibration(root: Path, warn: Callable[[str], None], model: str | None = None) -> Calibration | None:
    """read_calibration, with a file that cannot be read reported to `warn` and passed over: search goes on with
    the built-in model rather than stop. A calibration fitted for another model than `model` (the index rebuilt
    since with a model adapted again) is reported too; search passes it over itself."""
    try:
        calibration = read_calibration(root)
    except ValueError as exc:
        warn(str(exc))
        return None
    if calibration is not None and model is not None and calibration.model != model:
        warn(f"the abstention calibration {root / CALIBRATION_FILE} was fitted for {calibration.model}, and the "
             f"index is embedded by {model}: the built-in model is used instead; fit it again with "
             "`python -m eval.calibrate --save`")
    return calibration
