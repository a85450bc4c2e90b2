"""``hep-aa generate``: Pythia 8 event generation in the formats of the real samples."""

from __future__ import annotations

import click

from hep_aa.cli._progress import progress_bar
from hep_aa.exceptions import DataFormatError


def _detector_option(help_text: str):  # type: ignore[no-untyped-def]
    """``--detector cms|none``, shared by the generators (default: the CMS-card fast detector)."""
    return click.option(
        "--detector", default="cms", show_default=True, type=click.Choice(["cms", "none"]), help=help_text
    )


@click.group("generate")
def generate() -> None:
    """Generate events with Pythia 8 (LHCO-like dijets, SMEFT Zh and Wh)."""


@generate.command("lhco")
@click.option(
    "--process", required=True, type=click.Choice(["qcd", "signal"]), help="QCD dijets or W' -> X(qq) Y(qq)."
)
@click.option(
    "--n-events",
    required=True,
    type=click.IntRange(min=1),
    help="Events written (after the 1.2 TeV selection).",
)
@click.option("--seed", required=True, type=click.IntRange(0, 899_999_999))
@click.option("--m-wprime", default=3500.0, show_default=True, help="W' mass [GeV].")
@click.option("--m-x", default=500.0, show_default=True, help="X mass [GeV].")
@click.option("--m-y", default=100.0, show_default=True, help="Y mass [GeV].")
@click.option(
    "--pthat-min",
    default=1100.0,
    show_default=True,
    help="QCD generator cut [GeV]: 1100 reproduces the real R&D sample; <= 750 is unbiased.",
)
@_detector_option("Delphes-CMS-card-like fast detector (EFlow objects) or none (truth particles).")
@click.option(
    "-o", "--output", required=True, type=click.Path(dir_okay=False), help="Output .h5 (LHCO R&D layout)."
)
def lhco(
    process: str,
    n_events: int,
    seed: int,
    m_wprime: float,
    m_x: float,
    m_y: float,
    pthat_min: float,
    detector: str,
    output: str,
) -> None:
    """LHCO2020-like events (label column: 0 qcd, 1 signal) with the R&D sample's settings:
    Pythia 8 without MPI or pile-up, through a Delphes-CMS-card-like detector by default."""
    from hep_aa.generate.lhco import generate_lhco

    with progress_bar(f"generating {process}", n_events) as update:
        result = generate_lhco(
            output,
            process,  # type: ignore[arg-type]
            n_events,
            seed,
            detector=detector,
            progress=update,
            pthat_min=pthat_min,
            m_wprime=m_wprime,
            m_x=m_x,
            m_y=m_y,
        )
    xsec = (
        ""
        if result.sigma_selected_pb is None
        else f", sigma after selection {result.sigma_selected_pb:.4g} pb"
    )
    click.echo(
        f"{output}: {result.n_written} {process} events, detector {detector} "
        f"(selection efficiency {result.efficiency:.4f}{xsec})"
    )


@generate.command("merge-lhco")
@click.argument("inputs", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--chunk-size", default=5_000, show_default=True, type=click.IntRange(min=1))
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False))
def merge_lhco(inputs: tuple[str, ...], chunk_size: int, output: str) -> None:
    """Concatenate LHCO-layout files (e.g. generation chunks) into one, streaming, atomically."""
    import h5py
    import hdf5plugin  # noqa: F401

    from hep_aa.io.lhco import MAX_PARTICLES, LHCOWriter, count_events

    sizes = [count_events(p) for p in inputs]
    widths = {}
    for p in inputs:
        with h5py.File(p, "r") as f:
            widths[p] = f["df/block0_values"].shape[1]
        if widths[p] not in (3 * MAX_PARTICLES, 3 * MAX_PARTICLES + 1):
            raise DataFormatError(
                f"{p}: {widths[p]} columns; LHCO low-level files have {3 * MAX_PARTICLES} (black box) "
                f"or {3 * MAX_PARTICLES + 1} (with label)"
            )
    if len(set(widths.values())) != 1:
        first = inputs[0]
        other = next(p for p in inputs if widths[p] != widths[first])
        raise DataFormatError(
            f"{other}: {widths[other]} columns but {first} has {widths[first]}; inputs mix files with "
            "and without a label column"
        )
    with_label = widths[inputs[0]] == 3 * MAX_PARTICLES + 1
    with LHCOWriter(output, sum(sizes), with_label=with_label) as writer:
        for p, n in zip(inputs, sizes, strict=True):
            with h5py.File(p, "r") as f:
                values = f["df/block0_values"]
                for lo in range(0, n, chunk_size):
                    try:
                        block = values[lo : lo + chunk_size]
                    except (OSError, ValueError) as exc:
                        reason = " ".join(str(exc).split())
                        raise DataFormatError(
                            f"{p}: cannot read events {lo}-{lo + chunk_size} ({reason}); the file is truncated or corrupt"
                        ) from None
                    if with_label:
                        writer.write(block[:, :-1], block[:, -1])
                    else:
                        writer.write(block)
    click.echo(f"{output}: {sum(sizes)} events from {len(inputs)} file(s)")


@generate.command("vh")
@click.option("--n-events", required=True, type=click.IntRange(min=1), help="Events written.")
@click.option("--seed", required=True, type=click.IntRange(0, 899_999_999))
@click.option(
    "--process",
    default="zh",
    show_default=True,
    type=click.Choice(["zh", "wh"]),
    help="q qbar -> Z(ee/mumu) h or q qbar' -> W(enu/munu) h, h -> bb.",
)
@click.option(
    "--point",
    "points",
    multiple=True,
    help="SMEFT point: a benchmark name (contact_uL, contact_dR, czbox, czz, zpole_uLdL, zpole_dR), "
    "NAME=param:value,... (Higgs-basis parameters dcz czz czbox dgzh_uL dgzh_uR dgzh_dL dgzh_dR czgamma "
    "cgamgam dm dgz_eL dgz_eR dgw_lL) or NAME=c1,c2,... in that order; its weight is stored as "
    "SMEFTweight_NAME (repeatable).",
)
@click.option(
    "--unweight",
    "unweight_to",
    help="Name of a --point: write an unweighted sample at that point (partial accept-reject; "
    "rare events above w_max keep genWeight > 1, so the sample is exact).",
)
@click.option(
    "--unweight-quantile",
    type=click.FloatRange(min=0.0, min_open=True, max=1.0),
    help="With --unweight: threshold w_max = this quantile of the first batch's weights instead of "
    "1.5 x their maximum (e.g. 0.5: many more events kept, those above w_max carry genWeight > 1; exact).",
)
@click.option(
    "--pthat-min",
    type=click.FloatRange(min=0.0),
    help="Generator slice pT_hat > PTHAT_MIN [GeV] (pT of the hard-process V): e.g. 150 for the boosted region.",
)
@click.option(
    "--bias-pow",
    type=click.FloatRange(min=0.0, min_open=True, max=8.0),
    help="Phase-space bias (pT_hat/BIAS_REF)^BIAS_POW populating the high-pT tail; without --unweight the exact "
    "compensating weight is written to genWeight (normalised to mean 1), with --unweight it enters the accept-reject.",
)
@click.option("--bias-ref", default=100.0, show_default=True, type=click.FloatRange(min=0.0, min_open=True))
@_detector_option("Delphes-CMS-card-like reconstruction or none (truth leptons, ghost-b-tagged jets).")
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(dir_okay=False),
    help="Output ROOT file (NanoAOD-like TTree Events).",
)
def vh(
    n_events: int,
    seed: int,
    process: str,
    points: tuple[str, ...],
    unweight_to: str | None,
    unweight_quantile: float | None,
    pthat_min: float | None,
    bias_pow: float | None,
    bias_ref: float,
    detector: str,
    output: str,
) -> None:
    """Higgs-strahlung, Z(ll) h or W(lnu) h with h -> bb, with per-event SMEFT weight components."""
    from hep_aa.generate.vh import generate_vh, parse_point

    named = dict(parse_point(p) for p in points)
    boson = "Zh" if process == "zh" else "Wh"
    with progress_bar(f"generating {boson}", n_events) as update:
        result = generate_vh(
            output,
            n_events,
            seed,
            points=named,
            unweight_to=unweight_to,
            detector=detector,
            progress=update,
            process=process,
            pthat_min=pthat_min,
            bias_pow=bias_pow,
            bias_ref=bias_ref,
            unweight_quantile=unweight_quantile,
        )
    extra = f", unweighted to {unweight_to} (w_max {result.w_max:.3g})" if unweight_to else ""
    if result.n_effective < result.n_written - 0.5:
        extra += f", weighted: effective {result.n_effective:.0f} events"
    click.echo(
        f"{output}: {result.n_written} {boson} events from {result.n_generated} generated{extra} "
        f"(sigma {result.sigma_pb:.4g} pb)"
    )
