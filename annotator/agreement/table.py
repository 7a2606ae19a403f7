"""Plain-text rendering of an agreement report for a terminal."""

from __future__ import annotations

NULL = "—"


def _fmt(value: object) -> str:
    if value is None:
        return NULL
    if isinstance(value, float):
        return f"{value:.3f}"
    if isinstance(value, list) and len(value) == 2:
        return f"[{_fmt(value[0])}, {_fmt(value[1])}]"
    return str(value)


def _grid(header: list[str], rows: list[list[str]]) -> list[str]:
    widths = [
        max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(header)
    ]

    def line(cells: list[str]) -> str:
        first = cells[0].ljust(widths[0])
        rest = [c.rjust(w) for c, w in zip(cells[1:], widths[1:], strict=True)]
        return "  ".join([first, *rest]).rstrip()

    out = [line(header), line(["-" * w for w in widths])]
    out += [line(r) for r in rows]
    return out


_PARA = [
    ("units", "units"),
    ("percent", "percent_agreement"),
    ("alpha", "krippendorff_alpha"),
    ("alpha 95% CI", "alpha_ci95"),
    ("AC1", "gwet_ac1"),
    ("Fleiss", "fleiss_kappa"),
    ("Cohen", "cohen_kappa"),
]
_SPAN = [
    ("spans", "spans"),
    ("F1 exact", "f1_exact"),
    ("F1 overlap", "f1_overlap"),
    ("P overlap", "precision_overlap"),
    ("R overlap", "recall_overlap"),
    ("alpha_U", "unitized_alpha"),
]


def _reasons(obj: dict, where: str) -> list[tuple[str, str, str]]:
    return [(where, k, v) for k, v in (obj.get("reasons") or {}).items()]


def _collapse(notes: list[tuple[str, str, str]]) -> list[str]:
    """One line per (value, reason), listing where it applies, so 20 labels make one line."""
    grouped: dict[tuple[str, str], list[str]] = {}
    for where, key, reason in notes:
        grouped.setdefault((key, reason), []).append(where)
    out = []
    for (key, reason), places in grouped.items():
        shown = ", ".join(places[:4]) + (f" and {len(places) - 4} more" if len(places) > 4 else "")
        out.append(f"  {key} ({shown}): {reason}")
    return out


def _bases(obj: dict, prev: bool = False) -> list[str]:
    """What each column is computed on (the JSON report has the same counts); lines fit
    an 80-column terminal."""
    if "ratings" not in obj:
        return []
    lines = [f"  base: units, percent, alpha, AC1: {obj['units']} pairable units, "
             f"{obj['ratings']} ratings, {obj['raters']} raters",
             f"    Fleiss: {obj.get('fleiss_units', 0)} units rated by all "
             f"{obj.get('fleiss_raters', 0)}; with missing data (Gwet): "
             f"{_fmt(obj.get('fleiss_kappa_gwet'))}",
             f"    {'prev' if prev else 'shares'} and AC1's chance term: "
             f"{obj['rated_units']} rated units"
             + (f"; Cohen: {obj['cohen_units']} units both rated" if "cohen_units" in obj
                else "")]
    if obj.get("scale", "nominal") != "nominal":
        lines.append(f"  scale {obj['scale']}: alpha, AC2, weighted kappa ({obj.get('weights')} "
                     "weights)")
        lines.append(f"    on {obj.get('scale_units', 0)} units, '(none)' left out; nominal "
                     f"alpha: {_fmt(obj.get('krippendorff_alpha_nominal'))}")
    return lines


def format_table(report: dict) -> str:
    """A readable table per layer, per label and per annotator pair; 3 decimals, — for null."""
    units = report.get("units", 0)
    pairable = report.get("units_pairable")
    out = [
        f"Annotators: {', '.join(report.get('annotators', [])) or NULL}",
        f"Units: {units} marked done"
        + (f", {pairable} of them by two or more annotators (pairable)"
           if pairable is not None else ""),
    ]
    boot = report.get("bootstrap") or {}
    if boot:
        out.append(f"Bootstrap: {boot.get('resamples', 0)} resamples, seed {boot.get('seed', 0)}")
    notes: list[tuple[str, str, str]] = []
    for name, layer in (report.get("layers") or {}).items():
        kind = layer.get("kind")
        out.append("")
        out.append(f"{name} ({kind})")
        if kind == "single":
            cols = list(_PARA)
            if layer.get("scale", "nominal") != "nominal":
                cols = [("units", "scale_units"), ("percent", "percent_agreement"),
                        (f"alpha {layer['scale'][:3]}", "krippendorff_alpha"),
                        ("alpha 95% CI", "alpha_ci95"), ("AC2", "gwet_ac2"),
                        ("w.kappa", "cohen_kappa_weighted"), ("AC1", "gwet_ac1"),
                        ("Fleiss", "fleiss_kappa")]
            out += _grid(["", *(h for h, _ in cols)],
                         [["all", *(_fmt(layer.get(k)) for _, k in cols)]])
            out += _bases(layer)
            notes += _reasons(layer, name)
        elif kind == "multi":
            rows = []
            for label, obj in (layer.get("labels") or {}).items():
                rows.append(
                    [label, _fmt(obj.get("prevalence")), *(_fmt(obj.get(k)) for _, k in _PARA)]
                )
                notes += _reasons(obj, f"{name}/{label}")
            macro = layer.get("macro") or {}
            notes += _reasons(macro, f"{name}/macro")
            rows.append(["macro", "", "", *(_fmt(macro.get(k)) for _, k in _PARA[1:])])
            out += _grid(["label", "prev", *(h for h, _ in _PARA)], rows)
            first = next(iter((layer.get("labels") or {}).values()), None)
            if first:
                out += _bases(first, prev=True)
            if "masi_alpha" in layer:
                out.append(f"  MASI alpha over label sets: {_fmt(layer.get('masi_alpha'))} "
                           f"on {layer.get('masi_units', 0)} pairable units")
            notes += _reasons(layer, name)
        elif kind == "span":
            rows = [["all", *(_fmt(layer.get(k)) for _, k in _SPAN)]]
            rows += [
                [label, *(_fmt(obj.get(k)) for _, k in _SPAN)]
                for label, obj in (layer.get("labels") or {}).items()
            ]
            out += _grid(["label", *(h for h, _ in _SPAN)], rows)
            out.append(f"  base: F1, P, R: means over {layer.get('f1_pairs', 0)} annotator "
                       "pair(s), on the units both marked done")
            out.append(f"    alpha_U: {layer.get('unitized_alpha_units', 0)} units every "
                       "annotator marked done")
            if "gamma" in layer:
                se = layer.get("gamma_expected_disorder_se")
                out.append(f"  gamma: {_fmt(layer.get('gamma'))} on {layer.get('gamma_units', 0)} "
                           f"units every annotator marked done, {layer.get('gamma_spans', 0)} "
                           "spans")
                out.append(f"    expected disorder: {_fmt(layer.get('gamma_expected_disorder'))}"
                           f" (s.e. {_fmt(se)}) from {layer.get('gamma_samples', 0)} random "
                           f"continua, seed {layer.get('gamma_seed', 0)}")
            rel = layer.get("relations") or {}
            if rel.get("labels"):
                out.append(f"relations F1 (endpoints overlap): {_fmt(rel.get('f1'))}")
                for label, obj in rel["labels"].items():
                    out.append(
                        f"  {label}: {_fmt(obj.get('f1'))} ({obj.get('relations', 0)} relations)"
                    )
            notes += _reasons(layer, name)
    pairs = report.get("pairs") or []
    if pairs:
        out.append("")
        out.append("pairs (Cohen's kappa; multi layers: mean over labels)")
        layer_names = [
            n for n, lay in (report.get("layers") or {}).items() if lay.get("kind") != "span"
        ]
        rows = []
        for p in pairs:
            per = p.get("layers") or {}
            rows.append(
                [
                    f"{p.get('a')} / {p.get('b')}",
                    _fmt(p.get("units")),
                    _fmt(p.get("cohen_kappa")),
                    *(_fmt((per.get(n) or {}).get("cohen_kappa")) for n in layer_names),
                ]
            )
        out += _grid(["pair", "units", "kappa", *layer_names], rows)
    if notes:
        out.append("")
        out.append("why values are missing (—):")
        out += _collapse(notes)
    warnings = report.get("warnings") or []
    if warnings:
        out.append("")
        out.append("warnings:")
        out += [f"  {w}" for w in warnings]
    return "\n".join(out) + "\n"
