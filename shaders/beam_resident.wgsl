// GPU-resident HNSW search: one workgroup of 64 threads per query runs the greedy descent
// through the upper levels and the whole level-0 beam search, with no host round trip.
//
// A store snippet is prepended (resident_dense.wgsl, resident_pq.wgsl, resident_sparse.wgsl):
// it declares its own bindings (4 and up) and two functions,
//   fn teamPartial(slot: u32, id: u32, lane: u32) -> f32   // this lane's share of a distance
//   fn teamFinish(slot: u32, id: u32, sum: f32) -> f32      // internal distance (smaller is better)
// The host generates the chunk-selecting loaders the snippet calls (see src/gpu/resident/).
//
// Workgroup memory (sizes are override constants, chosen by the host from the device limit):
//   best    EF_CAP (distance, id) pairs, sorted by (distance, id); bit 31 of an id = expanded
//   cand    CAND_CAP (distance, id) pairs: the fresh neighbours of this round
//   visited HASH_SIZE u32, open addressing; when it fills up it is cleared and refilled with
//           the ids in `best` (CAGRA's "forgettable" hash). A forgotten node can be scored
//           again but can never re-enter `best`: it left (or never entered) with a distance no
//           better than the current ef-th, and that bound only tightens.
// Termination is HNSW's: the beam stops when every entry of `best` (the ef best found) has
// been expanded, i.e. no candidate better than the ef-th remains.

override EF_CAP: u32;     // capacity of `best` (>= params.ef)
override CAND_CAP: u32;   // power of two >= max(WIDTH * M0, M)
override HASH_SIZE: u32;  // power of two > EF_CAP + CAND_CAP
override TEAM: u32;       // threads per distance: a power of two <= 64
override WIDTH: u32;      // candidates expanded per round
override M0: u32;         // level-0 links per node (the graph's stride is M0 + 1)
override M: u32;          // upper-level links per node

const WG: u32 = 64u;
const EXPANDED: u32 = 0x80000000u;
const ID_MASK: u32 = 0x7fffffffu;
const NONE: u32 = 0xffffffffu;
const EMPTY: u32 = 0xffffffffu;
const BEST_PER_THREAD: u32 = 16u; // EF_CAP <= 1024
const CAND_PER_THREAD: u32 = 4u;  // CAND_CAP <= 256

struct Params {
  queryCount: u32,  // queries in this dispatch
  queryBase: u32,   // index of this dispatch's first query in the batch (rows of `out`)
  slotBase: u32,    // subtracted from the batch index to get the store snippet's slot
  groupsX: u32,     // workgroups along x (2-D grid beyond 65535 queries)
  ef: u32,
  outK: u32,        // entries written per query
  entry: u32,       // graph entry point
  maxLevel: u32,
  maxIters: u32,    // safety bound on level-0 rounds
  _pad0: u32,
  _pad1: u32,
  _pad2: u32,
}

@group(0) @binding(0) var<storage, read> graph0: array<u32>;       // node * (M0 + 1): count, ids
@group(0) @binding(1) var<storage, read> upper: array<u32>;        // [node] -> offset or NONE; lists
@group(0) @binding(2) var<storage, read_write> out: array<u32>;    // per query: outK (dist, id), iterations, distances
@group(0) @binding(3) var<uniform> params: Params;

var<workgroup> bestD: array<f32, EF_CAP>;
var<workgroup> bestI: array<u32, EF_CAP>;
var<workgroup> candD: array<f32, CAND_CAP>;
var<workgroup> candI: array<u32, CAND_CAP>;
var<workgroup> visited: array<atomic<u32>, HASH_SIZE>;
var<workgroup> partial: array<f32, WG>;
var<workgroup> parents: array<u32, 8>;
var<workgroup> candCount: atomic<u32>;
var<workgroup> visitedCount: atomic<u32>;
var<workgroup> ctl: ControlBlock;

struct ControlBlock {
  count: u32,       // a uniform count handed from thread 0 to the workgroup
  bestCount: u32,
  scanFrom: u32,    // every entry of best before this position is expanded
  nParents: u32,
  cur: u32,
  curD: f32,
  moved: u32,
  curBase: u32,
}

// Larger than any real distance (WGSL has no infinity literal); unused entries sort last.
const FAR: f32 = 3.4e38;

// (da, ia) < (db, ib): by distance, ties by id.
fn before(da: f32, ia: u32, db: f32, ib: u32) -> bool {
  return da < db || (da == db && ia < ib);
}

fn hashOf(id: u32) -> u32 {
  return (id * 2654435761u) >> 7u;
}

// Inserts id into the visited hash; true when it was not there.
fn markVisited(id: u32) -> bool {
  var h = hashOf(id) & (HASH_SIZE - 1u);
  loop {
    let r = atomicCompareExchangeWeak(&visited[h], EMPTY, id);
    if (r.exchanged) {
      atomicAdd(&visitedCount, 1u);
      return true;
    }
    if (r.old_value == id) {
      return false;
    }
    if (r.old_value != EMPTY) {
      h = (h + 1u) & (HASH_SIZE - 1u);
    }
    // old_value == EMPTY: a spurious weak-CAS failure; retry the same slot.
  }
}

// Scores candI[0..count) into candD with teams of TEAM threads; returns nothing, ends on a barrier.
fn scoreCandidates(count: u32, slot: u32, lid: u32) {
  let teams = WG / TEAM;
  let team = lid / TEAM;
  let lane = lid % TEAM;
  for (var first = 0u; first < count; first += teams) {
    let c = first + team;
    var s = 0.0;
    if (c < count) {
      s = teamPartial(slot, candI[c], lane);
    }
    partial[lid] = s;
    workgroupBarrier();
    if (lane == 0u && c < count) {
      var total = 0.0;
      for (var t = 0u; t < TEAM; t++) {
        total += partial[lid + t];
      }
      candD[c] = teamFinish(slot, candI[c], total);
    }
    workgroupBarrier();
  }
}

// Number of entries of best[0..n) before (d, id) (binary search; best is sorted).
fn rankInBest(d: f32, id: u32, n: u32) -> u32 {
  var lo = 0u;
  var hi = n;
  while (lo < hi) {
    let mid = (lo + hi) / 2u;
    if (before(bestD[mid], bestI[mid] & ID_MASK, d, id)) {
      lo = mid + 1u;
    } else {
      hi = mid;
    }
  }
  return lo;
}

// Number of entries of cand[0..n) before (d, id) (cand is sorted).
fn rankInCand(d: f32, id: u32, n: u32) -> u32 {
  var lo = 0u;
  var hi = n;
  while (lo < hi) {
    let mid = (lo + hi) / 2u;
    if (before(candD[mid], candI[mid], d, id)) {
      lo = mid + 1u;
    } else {
      hi = mid;
    }
  }
  return lo;
}

// Bitonic sort of cand[0..CAND_CAP) by (distance, id); unused entries are (inf, NONE).
fn sortCandidates(lid: u32) {
  for (var k = 2u; k <= CAND_CAP; k = k << 1u) {
    for (var j = k >> 1u; j > 0u; j = j >> 1u) {
      for (var i = lid; i < CAND_CAP; i += WG) {
        let l = i ^ j;
        if (l > i) {
          let ascending = (i & k) == 0u;
          let di = candD[i];
          let ii = candI[i];
          let dl = candD[l];
          let il = candI[l];
          if (before(dl, il, di, ii) == ascending) {
            candD[i] = dl;
            candI[i] = il;
            candD[l] = di;
            candI[l] = ii;
          }
        }
      }
      workgroupBarrier();
    }
  }
}

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let local = wg.y * params.groupsX + wg.x;
  if (local >= params.queryCount) {
    return;
  }
  let q = params.queryBase + local;
  let slot = q - params.slotBase;
  var distances = 0u;

  // Entry point.
  if (lid == 0u) {
    candI[0] = params.entry;
  }
  workgroupBarrier();
  scoreCandidates(1u, slot, lid);
  distances += 1u;
  if (lid == 0u) {
    ctl.cur = params.entry;
    ctl.curD = candD[0];
  }

  // Greedy descent through the upper levels.
  for (var level = params.maxLevel; level > 0u; level--) {
    loop {
      if (lid == 0u) {
        let base = upper[ctl.cur] + (level - 1u) * (M + 1u);
        ctl.curBase = base;
        ctl.count = upper[base];
      }
      let n = workgroupUniformLoad(&ctl.count);
      for (var i = lid; i < n; i += WG) {
        candI[i] = upper[ctl.curBase + 1u + i];
      }
      workgroupBarrier();
      scoreCandidates(n, slot, lid);
      distances += n;
      if (lid == 0u) {
        ctl.moved = 0u;
        for (var i = 0u; i < n; i++) {
          if (candD[i] < ctl.curD) {
            ctl.curD = candD[i];
            ctl.cur = candI[i];
            ctl.moved = 1u;
          }
        }
      }
      if (workgroupUniformLoad(&ctl.moved) == 0u) {
        break;
      }
    }
  }

  // Level 0: the beam starts from the descent's node.
  for (var i = lid; i < HASH_SIZE; i += WG) {
    atomicStore(&visited[i], EMPTY);
  }
  if (lid == 0u) {
    bestD[0] = ctl.curD;
    bestI[0] = ctl.cur;
    ctl.bestCount = 1u;
    ctl.scanFrom = 0u;
    atomicStore(&visitedCount, 0u);
  }
  workgroupBarrier();
  if (lid == 0u) {
    markVisited(ctl.cur);
  }
  workgroupBarrier();

  var iterations = 0u;
  loop {
    // Pick up to WIDTH unexpanded entries of best, best first.
    if (lid == 0u) {
      var np = 0u;
      var i = ctl.scanFrom;
      let bc = ctl.bestCount;
      while (i < bc && np < WIDTH) {
        let id = bestI[i];
        if ((id & EXPANDED) == 0u) {
          bestI[i] = id | EXPANDED;
          parents[np] = id;
          np++;
        }
        i++;
      }
      ctl.scanFrom = i;
      ctl.nParents = np;
      // Forget the visited set before it fills up, keeping what is in best.
      if (atomicLoad(&visitedCount) + WIDTH * M0 > (HASH_SIZE / 4u) * 3u) {
        ctl.count = 1u;
      } else {
        ctl.count = 0u;
      }
    }
    let np = workgroupUniformLoad(&ctl.nParents);
    if (np == 0u || iterations >= params.maxIters) {
      break;
    }
    iterations++;
    if (workgroupUniformLoad(&ctl.count) == 1u) {
      for (var i = lid; i < HASH_SIZE; i += WG) {
        atomicStore(&visited[i], EMPTY);
      }
      if (lid == 0u) {
        atomicStore(&visitedCount, 0u);
      }
      workgroupBarrier();
      let bc = ctl.bestCount;
      for (var i = lid; i < bc; i += WG) {
        markVisited(bestI[i] & ID_MASK);
      }
    }

    // Gather the parents' unvisited neighbours, compacted into cand.
    if (lid == 0u) {
      atomicStore(&candCount, 0u);
    }
    workgroupBarrier();
    for (var s = lid; s < np * M0; s += WG) {
      let p = s / M0;
      let base = parents[p] * (M0 + 1u);
      let i = s - p * M0;
      if (i < graph0[base]) {
        let id = graph0[base + 1u + i];
        if (markVisited(id)) {
          candI[atomicAdd(&candCount, 1u)] = id;
        }
      }
    }
    let fresh = workgroupUniformLoad(&candCount);
    scoreCandidates(fresh, slot, lid);
    distances += fresh;
    for (var i = fresh + lid; i < CAND_CAP; i += WG) {
      candD[i] = FAR;
      candI[i] = NONE;
    }
    workgroupBarrier();
    sortCandidates(lid);

    // Merge cand into best: every entry's new position is its own index plus the number of
    // entries of the other list before it; positions >= ef fall off.
    let bc = ctl.bestCount;
    let ef = params.ef;
    var bPos: array<u32, BEST_PER_THREAD>;
    var bD: array<f32, BEST_PER_THREAD>;
    var bI: array<u32, BEST_PER_THREAD>;
    var cPos: array<u32, CAND_PER_THREAD>;
    var cD: array<f32, CAND_PER_THREAD>;
    var cI: array<u32, CAND_PER_THREAD>;
    for (var t = 0u; t < BEST_PER_THREAD; t++) {
      let i = lid + t * WG;
      bPos[t] = NONE;
      if (i < bc) {
        bD[t] = bestD[i];
        bI[t] = bestI[i];
        bPos[t] = i + rankInCand(bD[t], bI[t] & ID_MASK, fresh);
      }
    }
    for (var t = 0u; t < CAND_PER_THREAD; t++) {
      let j = lid + t * WG;
      cPos[t] = NONE;
      if (j < fresh) {
        cD[t] = candD[j];
        cI[t] = candI[j];
        cPos[t] = j + rankInBest(cD[t], cI[t], bc);
      }
    }
    workgroupBarrier();
    for (var t = 0u; t < BEST_PER_THREAD; t++) {
      if (bPos[t] < ef) {
        bestD[bPos[t]] = bD[t];
        bestI[bPos[t]] = bI[t];
      }
    }
    for (var t = 0u; t < CAND_PER_THREAD; t++) {
      if (cPos[t] < ef) {
        bestD[cPos[t]] = cD[t];
        bestI[cPos[t]] = cI[t];
      }
    }
    if (lid == 0u) {
      ctl.bestCount = min(ef, bc + fresh);
      if (fresh > 0u && cPos[0] < ctl.scanFrom) {
        ctl.scanFrom = cPos[0];
      }
    }
    workgroupBarrier();
  }

  // Results, best first; then the counters of this query.
  let rowBase = q * (2u * params.outK + 2u);
  let bc = ctl.bestCount;
  for (var r = lid; r < params.outK; r += WG) {
    if (r < bc) {
      out[rowBase + 2u * r] = bitcast<u32>(bestD[r]);
      out[rowBase + 2u * r + 1u] = bestI[r] & ID_MASK;
    } else {
      out[rowBase + 2u * r] = 0x7f800000u;
      out[rowBase + 2u * r + 1u] = NONE;
    }
  }
  if (lid == 0u) {
    out[rowBase + 2u * params.outK] = iterations;
    out[rowBase + 2u * params.outK + 1u] = distances;
  }
}
