"""What a model really looks at across a folder: its strategies per predicted class, and the
shortcuts among them.

Spectral Relevance Analysis (SpRAy: Lapuschkin et al., "Unmasking Clever Hans predictors and
assessing what machines really learn", Nature Communications 2019): the maps of the photos
predicted as one class, downsized to MAP_SIDE x MAP_SIDE and each scaled to sum 1, are clustered
spectrally on a k-nearest-neighbour graph; the number of clusters is the eigengap's choice (the
largest gap between consecutive eigenvalues of the graph's normalised Laplacian). Each cluster is a
strategy: its mean map, its size, its accuracy where photos have a true class, where its evidence
peaks and how much its members' peaks vary.

A cluster is flagged as a likely shortcut when its members' evidence sits at the same place of the
frame in every photo (their peaks spread at most SPREAD_MAX of the frame) while the photos
themselves differ, away from where subjects usually are: the centre prior
(core/explain/localization.py) below OFF_CENTRE of its peak there. Where the pets' masks are known
(Oxford-IIIT Pet's trimaps) for at least MIN_SIZE of its members, the masks say where the subject
is instead of the prior: the cluster is flagged when its maps peak off the pet (the pointing game,
localization.pointing_hit) in at least OFF_OBJECT of those members, wherever in the frame, and
not flagged otherwise. Grad-CAM's own story of trust, a model that told nurses from doctors by
their hair, was found this way by people reading maps one by one (Selvaraju et al. 2017, section
6).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from scipy import linalg, sparse
from scipy.sparse import csgraph
from scipy.sparse.linalg import eigsh
from sklearn.cluster import KMeans
from sklearn.neighbors import kneighbors_graph

from core.explain.localization import TOLERANCE, centre_prior, pointing_hit

MAP_SIDE = 8  # maps are clustered at 8 x 8 cells (SpRAy downsizes its heatmaps the same way)
MAX_CLUSTERS = 8  # the eigengap chooses among 1..MAX_CLUSTERS strategies per class
NEIGHBOURS = 10  # the k of the k-nearest-neighbour affinity graph
MAX_DENSE = 3000  # maps of one class up to which the Laplacian's eigenvalues are found exactly
MIN_SIZE = 5  # a cluster smaller than this is never flagged: too few photos to call a habit
SPREAD_MAX = 0.1  # members' peaks within this share of the frame: "the same place"
OFF_CENTRE = 0.5  # the centre prior below half its peak: away from where subjects usually are
OFF_OBJECT = 0.8  # with masks: peaks off the pet in this share of the members is "off the object"
MIN_CONTENT = 8.0  # grey levels: members' photos that differ less than this are "the same photo"
TYPICAL = 4  # photos shown for a cluster: those whose maps are nearest its mean map


@dataclass(frozen=True)
class Strategy:
    """One cluster of one predicted class's maps."""

    label: str  # the predicted class
    members: tuple[int, ...]  # indices into the photos clustered
    mean_map: np.ndarray  # (MAP_SIDE, MAP_SIDE), sums to 1
    accuracy: float | None  # share of members whose true class is `label`; None: none known
    peak: tuple[float, float]  # (y, x) of the mean map's maximum, fractions of height and width
    spread: float  # root mean square distance of the members' peaks from their mean, same units
    typical: tuple[int, ...]  # members nearest the mean map, most typical first
    masked: int = 0  # members whose pet's mask is known
    on_pet: int = 0  # of those, members whose map peaks on the pet
    flagged: bool = False
    reason: str = ""

    @property
    def size(self) -> int:
        return len(self.members)

    @property
    def on_object(self) -> float | None:
        """The share of the members with a mask whose map peaks on the pet; None: no mask."""
        return self.on_pet / self.masked if self.masked else None

    def record(self) -> dict:
        """The JSON record: class, size, accuracy, peak, spread, on_object (None without masks),
        flagged, reason."""
        on_object = None if self.on_object is None else round(self.on_object, 4)
        return {
            "class": self.label,
            "size": self.size,
            "accuracy": self.accuracy,
            "peak": [round(float(self.peak[0]), 4), round(float(self.peak[1]), 4)],
            "spread": round(float(self.spread), 4),
            "on_object": on_object,
            "flagged": self.flagged,
            "reason": self.reason,
        }


def downsized(maps: np.ndarray) -> np.ndarray:
    """(N, h, w) raw maps -> (N, MAP_SIDE, MAP_SIDE): ReLU, area-resized, each summing to 1 (an
    all-zero map stays all zeros)."""
    small = np.stack([_resized(np.maximum(m, 0).astype(np.float32)) for m in maps])
    totals = small.sum(axis=(1, 2), keepdims=True)
    return np.divide(small, totals, out=np.zeros_like(small), where=totals > 0)


def _resized(heatmap: np.ndarray) -> np.ndarray:
    """Area averaging when shrinking; bilinear when a coarser map (7 x 7) is stretched."""
    shrink = min(heatmap.shape) >= MAP_SIDE
    how = cv2.INTER_AREA if shrink else cv2.INTER_LINEAR
    return cv2.resize(heatmap, (MAP_SIDE, MAP_SIDE), interpolation=how)


def affinity(features: np.ndarray) -> sparse.csr_matrix:
    """(N, D) -> (N, N) sparse symmetric 0/1 affinity: each point joined to its NEIGHBOURS
    nearest (Euclidean)."""
    k = min(NEIGHBOURS, len(features) - 1)
    graph = kneighbors_graph(features, k, include_self=False)
    return graph.maximum(graph.T).tocsr()


def spectrum(graph, count: int) -> tuple[np.ndarray, np.ndarray]:
    """The `count` smallest eigenvalues of the graph's normalised Laplacian and their vectors."""
    laplacian = csgraph.laplacian(sparse.csr_matrix(graph, dtype=float), normed=True)
    n = laplacian.shape[0]
    if n <= MAX_DENSE:
        # LAPACK's subset solver: exact where clean clusters make eigenvalues repeat (ARPACK
        # can miss a repeated one).
        return linalg.eigh(laplacian.toarray(), subset_by_index=[0, count - 1])
    # The largest of I - L are the smallest of L: ARPACK finds those fast on a sparse graph.
    values, vectors = eigsh(sparse.identity(n) - laplacian, k=count, which="LA", tol=1e-6)
    order = np.argsort(1 - values)
    return (1 - values)[order], vectors[:, order]


def eigengap(graph, most: int = MAX_CLUSTERS) -> int:
    """The number of clusters: 1 + the index of the largest gap between consecutive eigenvalues
    of the normalised Laplacian, among its `most` + 1 smallest (von Luxburg 2007, section 8.3)."""
    n = graph.shape[0]
    if n <= 2:
        return 1
    return largest_gap(spectrum(graph, min(most + 1, n - 1))[0])


def largest_gap(values: np.ndarray) -> int:
    """1 + the index of the largest gap between consecutive ascending eigenvalues."""
    return int(np.argmax(np.diff(values))) + 1


def cluster(features: np.ndarray, most: int = MAX_CLUSTERS, seed: int = 0) -> np.ndarray:
    """(N, D) -> (N,) cluster labels: spectral clustering (Ng, Jordan and Weiss 2001: k-means on
    the row-normalised eigenvectors), the number of clusters chosen by the eigengap."""
    n = len(features)
    if n < 3:
        return np.zeros(n, int)
    values, vectors = spectrum(affinity(features), min(most + 1, n - 1))
    k = largest_gap(values)  # the eigengap's choice, from the very spectrum embedded below
    if k == 1:
        return np.zeros(n, int)
    embedding = vectors[:, :k]
    norms = np.linalg.norm(embedding, axis=1, keepdims=True)
    embedding = np.divide(embedding, norms, out=np.zeros_like(embedding), where=norms > 0)
    return KMeans(k, n_init=4, random_state=seed).fit_predict(embedding)


def peak_of(small_map: np.ndarray) -> tuple[float, float]:
    """(y, x) of the map's largest cell's centre, as fractions of its height and width."""
    y, x = np.unravel_index(int(np.argmax(small_map)), small_map.shape)
    return (y + 0.5) / small_map.shape[0], (x + 0.5) / small_map.shape[1]


def on_the_pet(heatmap: np.ndarray, mask: np.ndarray | None) -> bool | None:
    """Does the (h, w) raw map, stretched to the (H, W) bool pet `mask` (True on the pet, the
    photo's own size), peak within TOLERANCE px of the pet? None without a mask, or for a map
    with no positive evidence (it peaks nowhere)."""
    positive = np.maximum(np.asarray(heatmap, np.float32), 0)
    if mask is None or not positive.any():
        return None
    return pointing_hit(positive, mask)


def strategies(
    maps: np.ndarray,
    predicted: list[str],
    truth: list[str | None] | None = None,
    photos: np.ndarray | None = None,
    on_pet: list[bool | None] | None = None,
) -> list[Strategy]:
    """The strategies of every predicted class, largest first within each class.

    `maps` (N, h, w) raw maps of N photos; `predicted` their predicted classes; `truth` their true
    classes (None where unknown); `photos` (N, s, s, 3) small copies of them, to tell photos that
    differ from copies of one photo (without them, content is taken to differ); `on_pet` whether
    each map peaks on its photo's pet (`on_the_pet`; None where no mask is known).
    """
    small = downsized(np.asarray(maps))
    found = []
    for label in sorted(set(predicted)):
        indices = np.array([i for i, p in enumerate(predicted) if p == label])
        labels = cluster(small[indices].reshape(len(indices), -1))
        for group in sorted(set(labels), key=lambda g: -int((labels == g).sum())):
            members = indices[labels == group]
            found.append(_strategy(label, members, small, truth, photos, on_pet))
    return found


def _strategy(label, members, small, truth, photos, on_pet) -> Strategy:
    mean = small[members].mean(axis=0)
    peaks = np.array([peak_of(small[i]) for i in members])
    spread = float(np.sqrt(((peaks - peaks.mean(axis=0)) ** 2).sum(axis=1).mean()))
    known = [truth[i] for i in members if truth and truth[i] is not None]
    accuracy = sum(t == label for t in known) / len(known) if known else None
    distance = np.abs(small[members] - mean).sum(axis=(1, 2))
    typical = tuple(int(i) for i in members[np.argsort(distance, kind="stable")[:TYPICAL]])
    hits = [on_pet[i] for i in members if on_pet is not None and on_pet[i] is not None]
    members = tuple(int(i) for i in members)
    strategy = Strategy(
        label, members, mean, accuracy, peak_of(mean), spread, typical, len(hits), sum(hits)
    )
    reason = shortcut_reason(strategy, photos)
    return Strategy(**{**strategy.__dict__, "flagged": bool(reason), "reason": reason})


def shortcut_reason(strategy: Strategy, photos: np.ndarray | None) -> str:
    """Why the cluster looks like a shortcut, in words; "" when it does not. With masks for at
    least MIN_SIZE members they decide (`off_object_reason`); else the centre prior does."""
    if strategy.masked >= MIN_SIZE:
        return off_object_reason(strategy)
    if strategy.size < MIN_SIZE or strategy.spread > SPREAD_MAX:
        return ""
    prior = centre_prior(MAP_SIDE * 8, MAP_SIDE * 8)
    y, x = (min(int(f * MAP_SIDE * 8), MAP_SIDE * 8 - 1) for f in strategy.peak)
    if prior[y, x] >= OFF_CENTRE * prior.max():
        return ""
    if photos is not None:
        members = np.asarray(photos)[list(strategy.members)].astype(np.float32)
        if members.std(axis=0).mean() < MIN_CONTENT:
            return ""
    return (
        f"{strategy.size} photos predicted '{strategy.label}' put their evidence at the same "
        f"place ({where(strategy.peak)}, peaks within {strategy.spread:.0%} of the frame) though "
        "the photos differ, away from where subjects usually are: a tag, a watermark or a frame "
        "may be what the model reads there."
    )


def off_object_reason(strategy: Strategy) -> str:
    """Why the cluster's evidence is off the pet, in words: its maps peak off the pet in at least
    OFF_OBJECT of the members with a mask; "" when they do not (or none has a mask)."""
    off = strategy.masked - strategy.on_pet
    if not strategy.masked or off < OFF_OBJECT * strategy.masked:
        return ""
    return (
        f"{strategy.size} photos predicted '{strategy.label}': their evidence is off the pet "
        f"in {off} of {strategy.masked} photos (trimaps: the map's peak more than {TOLERANCE} px "
        "from the pet): the background, a tag or a frame may be what the model reads there."
    )


def where(peak: tuple[float, float]) -> str:
    """(y, x) fractions -> "the top left", "the middle right", ..."""
    rows, columns = ("top", "middle", "bottom"), ("left", "centre", "right")
    row, column = (min(int(f * 3), 2) for f in peak)
    return f"the {rows[row]} {columns[column]}" if (row, column) != (1, 1) else "the centre"
