"""Finish an incremental run: bring relations and clusters up to date, keep cluster ids, and
record what changed.

Files were committed one transaction each, their new articles ``added`` and their old ones
``retiring``. ``reconcile`` then does the rest in one transaction:

1. **Relations = the verified candidate pairs of the whole archive**, exactly as a scan from
   scratch finds them (``candidates.py``'s rules, ``none`` verdicts included). A pair's
   candidate status can change only through a band key, sentence hash or content hash that
   an added or removed article has, so only pairs in those buckets are looked at again, one
   indexed SQL lookup per bucket; the archive's signatures are never loaded. (When a run
   changes more than ``full_fraction`` of the archive, all pairs are recomputed in memory
   instead, as a from-scratch scan would.)
2. **Clusters of the touched components only.** Clustering is a function of one connected
   component of ``exact``/``near`` edges (``cluster.py``), and relative positions of old
   articles never change, so only components that hold an added article, an endpoint of an
   added or removed edge, a neighbour of a removed article, or an article a changed decision
   names are clustered again; the result equals a from-scratch scan of the final archive.
3. **Stable ids.** Old clusters overlapping the new ones are matched greedily by shared
   members (most shared first; ties: the older cluster, then the smaller id): a new cluster
   inherits the id of its match, the others get a new id (``c`` + sha256 of the earliest
   member, as a fresh scan names them, made unique; ids are never reused). So a cluster
   keeps its id while it keeps most of its members; a split leaves the id with the part
   keeping most members; a merge keeps the id of the cluster that brought most members.
4. **Events**, stored with the run's generation: ``article_removed``, ``cluster_removed``,
   ``cluster_split``, ``new_cluster``, ``joined_cluster``, ``canonical_changed``.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections import Counter, OrderedDict, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from dedupe_releases.boilerplate import Boilerplate
from dedupe_releases.candidates import MAX_SENTENCE_ARTICLES, sentence_hashes
from dedupe_releases.cluster import CLUSTER_RELATIONS, cluster_id, cluster_matches
from dedupe_releases.config import Config
from dedupe_releases.decisions import Decisions
from dedupe_releases.index.schema import transaction
from dedupe_releases.index.store import Index, Member
from dedupe_releases.records import Cluster, Match
from dedupe_releases.verify import Verifier, score

#: Above this share of changed articles (relative to the archive before the run), all
#: candidate pairs and clusters are recomputed in memory, as a from-scratch scan does: one
#: sort of every band key beats a lookup per key when most keys are new.
FULL_FRACTION = 0.25

#: Articles whose keys ``is_candidate`` keeps at hand (about 1 KB each).
KEY_CACHE = 4096

EVENT_ORDER = (
    "article_removed",
    "cluster_removed",
    "cluster_split",
    "new_cluster",
    "joined_cluster",
    "canonical_changed",
)


class Stop(Exception):
    """Raised inside the reconcile transaction when a stop was requested (rolled back)."""


@dataclass
class Reconciled:
    generation: int
    full: bool
    events: list[dict[str, Any]] = field(default_factory=list)
    relations_added: int = 0
    relations_removed: int = 0
    articles_added: int = 0
    articles_removed: int = 0


def reconcile(
    index: Index,
    config: Config,
    decisions: Decisions | None,
    *,
    full_fraction: float = FULL_FRACTION,
    stop: Callable[[], bool] | None = None,
    before_commit: Callable[[Reconciled], None] | None = None,
    engine: Any = None,
) -> Reconciled | None:
    """Apply pending changes (and a changed decisions file); None if there was nothing to do.

    ``index`` must be the final view (``Index(con, path, final=True)``). ``before_commit``
    runs inside the transaction with the outcome (to close the run record there: the commit
    point comes last). ``stop`` is polled between batches; when it says stop, the
    transaction is rolled back and ``Stop`` raised: the pending state stays for the next run.
    ``engine`` (a ``dask_engine.DaskEngine``) verifies the pairs to add on a Dask cluster.
    """
    assert index.final
    added, retiring = index.pending()
    old_decisions = Decisions.from_rows(index.decisions())
    new_decisions = decisions if decisions is not None else old_decisions
    decisions_changed = new_decisions.rows() != old_decisions.rows()
    if not added and not retiring and not decisions_changed:
        return None
    with transaction(index.con, durable=True):
        index.forget()
        generation = index.generation + 1
        n_final = index.count_articles()
        n_before = n_final - len(added) + len(retiring)
        full = len(added) + len(retiring) > full_fraction * max(n_before, 1)
        old_lines = index.boilerplate_hashes()
        lines = _boilerplate(index, config, full, added, retiring, old_lines)
        work = _Work(index, config, new_decisions, stop, Boilerplate(lines))
        result = Reconciled(generation, full, articles_added=len(added))
        result.articles_removed = len(retiring)
        if full:
            to_add, to_delete = work.all_pairs()
        else:
            to_add, to_delete = work.changed_pairs(added, retiring)
        seeds = set(added)
        for a, b in to_delete:
            if index.relation(a, b) in CLUSTER_RELATIONS:
                seeds.update((a, b))
            index.delete_relation(a, b)
        result.relations_removed = len(to_delete)
        work.prefetch(sorted({rid for pair in to_add for rid in pair}))
        if engine is not None and to_add:
            refs = [(work.member(a).ref, work.member(b).ref) for a, b in to_add]
            work.verifier.remember(engine.verify(refs, index, config, Boilerplate(lines)))
        for n, (a, b) in enumerate(to_add):
            if n % 256 == 0:
                work.check_stop()
            m = work.verify(a, b)
            index.put_relation(a, b, m, work.member(a).ref)
            if m is not None and m.relation in CLUSTER_RELATIONS:
                seeds.update((a, b))
        result.relations_added = len(to_add)
        if lines != old_lines:
            # Lines became boilerplate or stopped being it: the verdicts of the articles that
            # hold them (their masked texts changed) and their canonical choices may change.
            index.replace_boilerplate(lines)
            touched = index.articles_with_lines(lines ^ old_lines)
            seeds |= touched
            fresh = set(to_add)
            for rid in sorted(touched):
                work.check_stop()
                for other, _relation in index.relations_of(rid):
                    pair = (min(rid, other), max(rid, other))
                    if pair not in fresh and other not in retiring:
                        fresh.add(pair)
                        m = work.verify(*pair)
                        index.put_relation(*pair, m, work.member(pair[0]).ref)
        if decisions_changed:
            named = old_decisions.articles() | new_decisions.articles()
            seeds.update(index.rids_of_refs(named).values())
        seeds.difference_update(retiring)
        work.check_stop()
        result.events = work.recluster(None if full else seeds, retiring, generation)
        index.finish_pending(generation)
        if decisions_changed:
            index.replace_decisions(new_decisions.rows())
        index.add_events(generation, result.events)
        index.set_meta("generation", generation)
        if before_commit is not None:
            before_commit(result)
    index.forget()
    return result


def _boilerplate(
    index: Index,
    config: Config,
    full: bool,
    added: list[int],
    retiring: list[int],
    old: frozenset[int],
) -> frozenset[int]:
    """The boilerplate lines of the final archive (``boilerplate.learn``'s rule).

    A line's status can change only if an added or removed article holds it, so only those
    lines are counted again (unless everything is recomputed anyway).
    """
    v = config.verify
    if not v.mask_boilerplate:
        return frozenset()
    if full:
        return index.learn_boilerplate(v.boilerplate_min_titles, v.boilerplate_min_files)
    changed = {h for rid in (*added, *retiring) for h in index.line_keys(rid)}
    now = index.boilerplate_among(changed, v.boilerplate_min_titles, v.boilerplate_min_files)
    return frozenset((old - changed) | now)


class _Work:
    """The state of one reconcile: caches of bucket facts, the verifier, the decisions."""

    def __init__(
        self,
        index: Index,
        config: Config,
        decisions: Decisions,
        stop: Callable[[], bool] | None,
        boilerplate: Boilerplate,
    ) -> None:
        self.index = index
        self.config = config
        self.decisions = decisions
        self.stop = stop
        mask = boilerplate.mask if boilerplate.hashes else None
        self.verifier = Verifier(
            index.article, config.sketch, config.verify, sentence_hashes, text=mask
        )
        self._members: dict[int, Member] = {}
        self._band_info: dict[int, tuple[int, int]] = {}
        self._sentence_size: dict[int, int] = {}
        self._content_first: dict[str, int] = {}
        # Keys of recently examined articles, bounded: memory must not grow with the archive.
        self._keys: OrderedDict[int, tuple[frozenset[int], frozenset[int], str]] = OrderedDict()

    def check_stop(self) -> None:
        if self.stop is not None and self.stop():
            raise Stop

    # -- candidate pairs -----------------------------------------------------------------

    def all_pairs(self) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
        """Every candidate pair of the final archive, against every stored relation."""
        final = self.index.candidate_rid_pairs(
            self.config.verify.min_shared_sentences, self.config.sketch.max_bucket_pairs
        )
        stored = self.index.all_relation_pairs()
        final_set = set(final)
        to_delete = sorted(p for p in stored if p not in final_set)
        to_add = [p for p in final if p not in stored]
        return to_add, to_delete

    def changed_pairs(
        self, added: list[int], retiring: list[int]
    ) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
        """Pairs whose candidate status changed: ``(to verify and add, to delete)``."""
        index = self.index
        band_changes: dict[int, tuple[set[int], set[int]]] = defaultdict(lambda: (set(), set()))
        sentence_changes: dict[int, tuple[set[int], set[int]]] = defaultdict(lambda: (set(), set()))
        content_changes: dict[str, tuple[set[int], set[int]]] = defaultdict(lambda: (set(), set()))
        for side, rids in ((0, added), (1, retiring)):
            for rid in rids:
                bands, sentences, content = index.keys(rid)
                for k in bands:
                    band_changes[k][side].add(rid)
                for h in sentences:
                    sentence_changes[h][side].add(rid)
                content_changes[content][side].add(rid)
        routed: set[tuple[int, int]] = set()  # pairs a band key or a content hash may link
        band_sizes = index.count_buckets("bands", band_changes)
        for k, (new, gone) in band_changes.items():
            self.check_stop()
            if band_sizes[k] >= 2:  # (a bucket of one makes no pair, now or before)
                routed |= self._bucket_review(
                    "bands", k, new, gone, self.config.sketch.max_bucket_pairs
                )
        for c, (new, gone) in content_changes.items():
            routed |= self._content_review(c, new, gone)
        # Every sentence of an added article is a changed key, so for a pair with an added
        # article these hits are exactly its shared sentences that count. Such a pair that
        # no band or content hash links, with too few hits, cannot be a candidate: it needs
        # no lookup at all (most pairs found through shared sentences are of this kind).
        hits: Counter[tuple[int, int]] = Counter()
        review = set(routed)
        sentence_sizes = index.count_buckets("sentences", sentence_changes)
        self._sentence_size.update(sentence_sizes)
        for h, (new, gone) in sentence_changes.items():
            if sentence_sizes[h] >= 2:
                pairs = self._sentence_review(h, new, gone)
                if sentence_sizes[h] <= MAX_SENTENCE_ARTICLES:
                    hits.update(pairs)
                review |= pairs
        fresh = set(added)
        need = self.config.verify.min_shared_sentences
        review = {
            p
            for p in review
            if p in routed or hits[p] >= need or not (p[0] in fresh or p[1] in fresh)
        }
        removed = set(retiring)
        to_delete: set[tuple[int, int]] = set()
        for rid in retiring:
            for other, _rel in index.relations_of(rid):
                to_delete.add((min(rid, other), max(rid, other)))
        to_add: list[tuple[int, int]] = []
        for pair in sorted(review):
            a, b = pair
            if a == b or a in removed or b in removed:
                continue
            candidate = self.is_candidate(a, b)
            # An added article has no stored relation yet.
            stored = a not in fresh and b not in fresh and index.relation(a, b) is not None
            if candidate and not stored:
                to_add.append(pair)
            elif stored and not candidate:
                to_delete.add(pair)
        return to_add, sorted(to_delete)

    def _stored_within(self, members: list[Member]) -> set[tuple[int, int]]:
        inside = {m.rid for m in members}
        out = set()
        for m in members:
            for other, _rel in self.index.relations_of(m.rid):
                if other in inside:
                    out.add((min(m.rid, other), max(m.rid, other)))
        return out

    @staticmethod
    def _pairs_with(members: list[Member], new: set[int]) -> set[tuple[int, int]]:
        return {(min(x, m.rid), max(x, m.rid)) for x in new for m in members if m.rid != x}

    @staticmethod
    def _all_pairs(members: list[Member]) -> set[tuple[int, int]]:
        rids = [m.rid for m in members]
        return {(min(x, y), max(x, y)) for i, x in enumerate(rids) for y in rids[i + 1 :]}

    def _bucket_review(
        self, table: str, key: int, new: set[int], gone: set[int], cap: int
    ) -> set[tuple[int, int]]:
        """Pairs of one band bucket whose status may have changed (a superset is fine)."""
        n_final = self.index.count_bucket(table, key)
        if n_final < 2:
            return set()  # every pair this bucket made before had a removed article
        n_before = n_final - len(new) + len(gone)
        if n_final <= cap:
            members = self.index.bucket(table, key)
            return self._all_pairs(members) if n_before > cap else self._pairs_with(members, new)
        first = self.index.bucket(table, key, limit=1)[0]
        if n_before <= cap or first.rid in new or gone:
            # The bucket became a star, or its centre may have moved: all of it again.
            members = self.index.bucket(table, key)
            return {
                (min(first.rid, m.rid), max(first.rid, m.rid)) for m in members[1:]
            } | self._stored_within(members)
        return {(min(first.rid, x), max(first.rid, x)) for x in new if x != first.rid}

    def _sentence_review(self, key: int, new: set[int], gone: set[int]) -> set[tuple[int, int]]:
        cap = MAX_SENTENCE_ARTICLES
        n_final = self.index.count_bucket("sentences", key)
        n_before = n_final - len(new) + len(gone)
        if n_final <= cap:
            if n_final < 2:
                return set()
            members = self.index.bucket("sentences", key)
            return self._all_pairs(members) if n_before > cap else self._pairs_with(members, new)
        if n_before <= cap:  # boilerplate now: pairs that counted this sentence may drop out
            return self._stored_within(self.index.bucket("sentences", key))
        return set()

    def _content_review(self, content: str, new: set[int], gone: set[int]) -> set[tuple[int, int]]:
        if self.index.count_content(content) < 2:
            return set()
        first = self.index.content_group(content, limit=1)[0]
        if first.rid in new or gone:
            members = self.index.content_group(content)
            return {
                (min(first.rid, m.rid), max(first.rid, m.rid)) for m in members[1:]
            } | self._stored_within(members)
        return {(min(first.rid, x), max(first.rid, x)) for x in new if x != first.rid}

    def _article_keys(self, rid: int) -> tuple[frozenset[int], frozenset[int], str]:
        hit = self._keys.get(rid)
        if hit is not None:
            self._keys.move_to_end(rid)
            return hit
        bands, sentences, content = self.index.keys(rid)
        keys = (frozenset(bands), frozenset(sentences), content)
        self._keys[rid] = keys
        if len(self._keys) > KEY_CACHE:
            self._keys.popitem(last=False)
        return keys

    def is_candidate(self, a: int, b: int) -> bool:
        """Would a from-scratch scan of the final archive verify this pair?"""
        bands_a, sentences_a, content_a = self._article_keys(a)
        bands_b, sentences_b, content_b = self._article_keys(b)
        for key in bands_a & bands_b:
            size, first = self._band(key)
            if size <= self.config.sketch.max_bucket_pairs or first in (a, b):
                return True
        shared = 0
        for key in sentences_a & sentences_b:
            if self._sentence(key) <= MAX_SENTENCE_ARTICLES:
                shared += 1
        if shared >= self.config.verify.min_shared_sentences:
            return True
        if content_a == content_b:
            if content_a not in self._content_first:
                self._content_first[content_a] = self.index.content_group(content_a, 1)[0].rid
            return self._content_first[content_a] in (a, b)
        return False

    def _band(self, key: int) -> tuple[int, int]:
        if key not in self._band_info:
            size = self.index.count_bucket("bands", key)
            first = self.index.bucket("bands", key, limit=1)[0].rid
            self._band_info[key] = (size, first)
        return self._band_info[key]

    def _sentence(self, key: int) -> int:
        if key not in self._sentence_size:
            self._sentence_size[key] = self.index.count_bucket("sentences", key)
        return self._sentence_size[key]

    # -- verification ----------------------------------------------------------------------

    def prefetch(self, rids: list[int]) -> None:
        """Look up many members at once (on a server: a query per 500, not one per article)."""
        found = self.index.members([r for r in rids if r not in self._members])
        self._members.update(found)
        self.index.remember_positions(found.values())

    def member(self, rid: int) -> Member:
        if rid not in self._members:
            self._members.update(self.index.members([rid]))
            self.index.remember_positions([self._members[rid]])
        return self._members[rid]

    def verify(self, a: int, b: int) -> Match | None:
        return self.verifier.match(self.member(a).ref, self.member(b).ref)

    def _rid(self, ref: str) -> int:
        return self.index.rids_of_refs([ref])[ref]

    def match(self, a: str, b: str) -> Match | None:
        """The verdict of two articles: the stored one if the pair is a relation."""
        ra, rb = self._rid(a), self._rid(b)
        if self.index.relation(ra, rb) is not None:
            return self.index.match_of(ra, rb)
        return self.verifier.match(a, b)

    def scores(self, a: str, b: str) -> Any:
        return score(self.verifier.features(a), self.verifier.features(b))

    # -- clusters --------------------------------------------------------------------------

    def _neighbours(self, rid: int) -> list[int]:
        """Cluster edges of one article in the final archive, decisions applied."""
        ref = self.member(rid).ref
        out = []
        for other, rel in self.index.relations_of(rid):
            if rel in CLUSTER_RELATIONS and (
                not self.decisions
                or self.decisions.verdict(ref, self.member(other).ref) != "different"
            ):
                out.append(other)
        if self.decisions.same:
            partners = [b if a == ref else a for a, b in self.decisions.same if ref in (a, b)]
            out.extend(self.index.rids_of_refs(partners).values())
        return out

    def _component_nodes(self, seeds: Iterable[int]) -> set[int]:
        nodes: set[int] = set()
        stack = [s for s in seeds]
        while stack:
            x = stack.pop()
            if x in nodes:
                continue
            nodes.add(x)
            stack.extend(y for y in self._neighbours(x) if y not in nodes)
        return nodes

    def recluster(
        self, seeds: set[int] | None, retiring: list[int], generation: int
    ) -> list[dict[str, Any]]:
        """Cluster the touched components again (all when ``seeds`` is None); return events."""
        index = self.index
        removed = set(retiring)
        if seeds is None:
            nodes = {rid for pair in index.all_relation_pairs() for rid in pair} - removed
            for ref in self.decisions.articles():
                nodes.update(index.rids_of_refs([ref]).values())
            old_ids = set(index.active_cluster_ids())
        else:
            nodes = self._component_nodes(seeds)
            while True:  # every surviving member of a touched old cluster is re-clustered
                old_ids = set(index.clusters_of(nodes | removed).values())
                extra = set()
                for cid in old_ids:
                    extra |= index.cluster_row(cid)[0] - nodes - removed
                if not extra:
                    break
                nodes |= self._component_nodes(extra)
        old = {cid: index.cluster_row(cid) for cid in sorted(old_ids)}
        old_cluster_of = {rid: cid for cid, (ms, _c, _g) in old.items() for rid in ms}
        members = index.members(nodes)
        self._members.update(members)
        index.remember_positions(members.values())
        rid_of = {m.ref: rid for rid, m in members.items()}
        edges: list[Match] = []
        for rid in sorted(nodes):
            for other, rel in index.relations_of(rid):
                if rel in CLUSTER_RELATIONS and rid < other and other in nodes:
                    m = index.match_of(rid, other)
                    if m is not None:
                        edges.append(m)
        match = self.decisions.wrap(self.match, self.scores)
        present = rid_of.__contains__
        clusters = cluster_matches(
            self.decisions.edges(edges, match, present) if self.decisions else edges,
            index.article,
            match,
            index.position,
            lambda a: self.verifier.features(a.id).words,
            self.decisions.pinned,
        )
        return self._assign(clusters, old, old_cluster_of, rid_of, removed, generation)

    def _assign(
        self,
        clusters: list[Cluster],
        old: dict[str, tuple[set[int], int, int]],
        old_cluster_of: dict[int, str],
        rid_of: dict[str, int],
        removed: set[int],
        generation: int,
    ) -> list[dict[str, Any]]:
        index = self.index
        new_rids = [{rid_of[m] for m in c.members} for c in clusters]
        overlaps = []
        for j, rids in enumerate(new_rids):
            counts: dict[str, int] = defaultdict(int)
            for rid in rids:
                if rid in old_cluster_of:
                    counts[old_cluster_of[rid]] += 1
            for cid, n in counts.items():
                overlaps.append((-n, old[cid][2], cid, index.position(clusters[j].members[0]), j))
        overlaps.sort()
        heir: dict[int, str] = {}
        taken: set[str] = set()
        for _n, _created, cid, _pos, j in overlaps:
            if j not in heir and cid not in taken:
                heir[j] = cid
                taken.add(cid)
        final: list[Cluster] = []
        used: set[str] = set(taken)
        for j, c in enumerate(clusters):
            cid = heir.get(j) or self._fresh_id(c, used)
            used.add(cid)
            final.append(dataclasses.replace(c, id=cid))
        new_cluster_of = {rid_of[m]: c.id for c in final for m in c.members}
        ref_of_rid = {rid: ref for ref, rid in rid_of.items()}
        old_refs = {
            rid: index.article_by_rid(rid).id
            for ms, _c, _g in old.values()
            for rid in ms
            if rid not in ref_of_rid
        }
        ref_of_rid.update(old_refs)

        def ref(rid: int) -> str:
            if rid not in ref_of_rid:
                ref_of_rid[rid] = index.article_by_rid(rid).id
            return ref_of_rid[rid]

        events: list[dict[str, Any]] = []
        for rid in sorted(removed):
            events.append(
                {
                    "type": "article_removed",
                    "article": ref(rid),
                    "cluster": old_cluster_of.get(rid),
                }
            )
        decided_of = [
            {
                m: "same"
                for m in c.members
                if m != c.canonical and self.decisions.verdict(m, c.canonical) == "same"
            }
            for c in final
        ]
        # A cluster that comes out exactly as stored is left alone (its `changed` stays).
        same = {
            j
            for j, c in enumerate(final)
            if j in heir
            and index.cluster_content(c.id) == index.content_of_cluster(c, rid_of, decided_of[j])
        }
        # Write: detach every other touched old cluster first (an article may move between two).
        for cid in old:
            if not any(final[j].id == cid for j in same):
                index.detach_members(cid)
        for j, c in enumerate(final):
            decided = decided_of[j]
            if j in same:
                continue
            if j in heir:
                cid = c.id
                members, canonical, created = old[cid]
                for rid in sorted(new_rids[j] - members, key=lambda r: index.position(ref(r))):
                    events.append(
                        {
                            "type": "joined_cluster",
                            "cluster": cid,
                            "article": ref(rid),
                            "from": old_cluster_of.get(rid),
                        }
                    )
                left = sorted(members - new_rids[j] - removed, key=lambda r: ref(r))
                if left:
                    events.append(
                        {
                            "type": "cluster_split",
                            "cluster": cid,
                            "left": [
                                {"article": ref(r), "cluster": new_cluster_of.get(r)} for r in left
                            ],
                        }
                    )
                if rid_of[c.canonical] != canonical:
                    events.append(
                        {
                            "type": "canonical_changed",
                            "cluster": cid,
                            "old": ref(canonical),
                            "new": c.canonical,
                        }
                    )
                index.write_cluster(c, rid_of, generation, decided, created)
            else:
                events.append(
                    {
                        "type": "new_cluster",
                        "cluster": c.id,
                        "canonical": c.canonical,
                        "members": list(c.members),
                        "from": sorted(
                            {old_cluster_of[r] for r in new_rids[j] if r in old_cluster_of}
                        ),
                    }
                )
                index.write_cluster(c, rid_of, generation, decided, None)
        for cid, (members, _canonical, _created) in old.items():
            if cid in taken:
                continue
            left = sorted(members - removed, key=lambda r: ref(r))
            events.append(
                {
                    "type": "cluster_removed",
                    "cluster": cid,
                    "left": [{"article": ref(r), "cluster": new_cluster_of.get(r)} for r in left],
                }
            )
            index.retire_cluster(cid, generation)
        order = {t: n for n, t in enumerate(EVENT_ORDER)}
        events.sort(key=lambda e: (order[e["type"]], e.get("cluster") or "", e.get("article", "")))
        return events

    def _fresh_id(self, cluster: Cluster, used: set[str]) -> str:
        """The from-scratch id (sha256 of the earliest member), or a variant if taken."""
        cid = cluster_id(cluster.members, self.index.position)
        n = 1
        while cid in used or self.index.cluster_id_taken(cid):
            n += 1
            first = min(cluster.members, key=self.index.position)
            cid = "c" + hashlib.sha256(f"{first}\n{n}".encode()).hexdigest()[:10]
        return cid
