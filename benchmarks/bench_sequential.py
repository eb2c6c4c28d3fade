"""Fewest trainings: the sequential design of `run --until-settled` against the fixed design,
simulated (no TensorFlow).

Each replicate draws final metrics for the groups (normal, one noise floor = 1), looks at them
in rounds exactly as `run --until-settled` does (tfrepro.analysis.sequential with the Welch and
noise-floor TOST p-values of tfrepro.analysis.stats, the functions compare uses) and records the
verdict and the seeds it took. Scenarios: A/A with one pair and with three groups (three pairs:
the familywise rate of a false "different"), and a shift of one noise floor (power, and the
median trainings against the fixed design that reaches the same power, statsmodels' t-test
power solver).

    python benchmarks/bench_sequential.py [--reps 2000] [--first 8] [--round 8] [--max-seeds 40]
                                          [--spending pocock|obrien-fleming] [--reference R]

With --reference R it also simulates `check --until-settled`: a baseline group of R seeds that
never grows, the current group growing in rounds (design.reference = R): the A/A rate and the
power at one noise floor.
"""

from __future__ import annotations

import argparse
import itertools
import sys

import numpy as np

from tfrepro.analysis import sequential, stats


def run_pairs(groups: np.ndarray, design: sequential.Design) -> tuple[list[str], int]:
    """One replicate: groups (g by max_seeds). Returns each pair's verdict and the trainings."""
    pairs = list(itertools.combinations(range(len(groups)), 2))
    verdicts: dict[tuple[int, int], str] = {}
    active = set(range(len(groups)))
    used = dict.fromkeys(active, 0)
    for look, n in enumerate(design.seeds):
        for g in active:
            used[g] = n
        for a, b in pairs:
            if (a, b) in verdicts:
                continue
            x, y = groups[a][:n], groups[b][:n]
            got = sequential.verdict_at(stats.welch_p(x, y), stats.tost_noise_p(x, y), look, design)
            if got:
                verdicts[(a, b)] = got
        active = {g for p in pairs if p not in verdicts for g in p}
        if not active:
            break
    return [verdicts.get(p, "inconclusive") for p in pairs], sum(used.values())


def scenario(shift: float, n_groups: int, design: sequential.Design, reps: int, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    design.comparisons = n_groups * (n_groups - 1) // 2
    any_diff, first_diff, trainings = 0, 0, []
    for _ in range(reps):
        means = np.array([0.0] + [shift] * (n_groups - 1))
        groups = rng.normal(means[:, None], 1.0, size=(n_groups, design.max_seeds))
        verdicts, used = run_pairs(groups, design)
        any_diff += "different" in verdicts
        first_diff += verdicts[0] == "different"
        trainings.append(used)
    return {
        "familywise_different": any_diff / reps,
        "first_pair_different": first_diff / reps,
        "median_trainings": float(np.median(trainings)),
        "mean_trainings": float(np.mean(trainings)),
    }


def check_scenario(shift: float, design: sequential.Design, reps: int, seed: int) -> dict:
    """`check --until-settled`: the baseline keeps design.reference seeds, the current group
    grows; one comparison."""
    rng = np.random.default_rng(seed)
    assert design.reference is not None
    design.comparisons = 1
    verdicts, trainings = [], []
    for _ in range(reps):
        base = rng.normal(0.0, 1.0, size=design.reference)
        current = rng.normal(shift, 1.0, size=design.max_seeds)
        got, used = "inconclusive", design.max_seeds
        for look, n in enumerate(design.seeds):
            x = current[:n]
            step = sequential.verdict_at(
                stats.welch_p(base, x), stats.tost_noise_p(base, x), look, design
            )
            if step:
                got, used = step, n
                break
        verdicts.append(got)
        trainings.append(used)
    return {
        "different": verdicts.count("different") / reps,
        "median_trainings": float(np.median(trainings)),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=2000)
    ap.add_argument("--first", type=int, help="seeds per group in round 1 (default: --round)")
    ap.add_argument("--round", type=int, default=8)
    ap.add_argument("--max-seeds", type=int, default=40)
    ap.add_argument("--spending", choices=sequential.SPENDING, default="pocock")
    ap.add_argument("--reference", type=int, help="also simulate check against R fixed seeds")
    args = ap.parse_args()
    first = args.first or args.round
    design = sequential.Design(first, args.round, args.max_seeds, spending=args.spending)
    aa1 = scenario(0.0, 2, design, args.reps, 1)
    aa3 = scenario(0.0, 3, design, args.reps, 2)
    h1 = scenario(1.0, 2, design, args.reps, 3)
    power = h1["first_pair_different"]
    fixed_n = sequential.fixed_seeds(1.0, alpha=design.alpha, power=min(power, 0.999))
    ratio = h1["median_trainings"] / (2 * fixed_n)
    print(f"design: {first} seeds, then {args.round} a round, at most {args.max_seeds}, "
          f"{args.spending}; "
          f"{args.reps} replicates per scenario")  # fmt: skip
    print(f"A/A, one pair:    false 'different' {aa1['familywise_different']:.3f}; "
          f"median trainings {aa1['median_trainings']:.0f}")  # fmt: skip
    print(f"A/A, three pairs: familywise false 'different' {aa3['familywise_different']:.3f}; "
          f"median trainings {aa3['median_trainings']:.0f}")  # fmt: skip
    print(f"shift of 1 noise floor: power {power:.3f}; median trainings "
          f"{h1['median_trainings']:.0f} (mean {h1['mean_trainings']:.1f}); the fixed design "
          f"with that power: {fixed_n} seeds per group = {2 * fixed_n} trainings; "
          f"ratio {ratio:.2f}")  # fmt: skip
    ok = (
        max(aa1["familywise_different"], aa3["familywise_different"]) <= 0.05
        and power >= 0.8
        and ratio <= 0.6
    )
    print("targets (A/A <= 5 %, power >= 80 %, median <= 0.6x fixed):", "met" if ok else "NOT met")
    if args.reference:
        ref = sequential.Design(
            first, args.round, args.max_seeds, spending=args.spending, reference=args.reference
        )
        aa, h = check_scenario(0.0, ref, args.reps, 4), check_scenario(1.0, ref, args.reps, 5)
        print(f"check against {args.reference} fixed baseline seeds: A/A false 'different' "
              f"{aa['different']:.3f}; power at 1 noise floor {h['different']:.3f}, median "
              f"current-side trainings {h['median_trainings']:.0f}")  # fmt: skip
        ok = ok and aa["different"] <= 0.05
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
