"""Tables and generated findings of the teacher study (notebook 07), with bootstrap CIs.

One table per room: each teacher's SI-SDR / SI-SIR / SI-SAR on the test mixtures, the Pearson
r (and p) between its mean confidence and its SI-SDR on the validation mixtures (as Fig. 2 of
the bootstrapping paper), its student's SI-SDR (alpha = 1), student - teacher (paired over
the same test mixtures), and the paper's and issue 12's numbers beside ours.  The findings
are written from those numbers; nothing in them is fixed in advance.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import pearsonr

from ..eval.stats import bootstrap_ci, format_ci, paired_scores
from ..studies.teachers import GROUND_TRUTH, TeacherStudy
from .published import (
    MUSIC_BOOTSTRAP,
    TEACHER_ISSUE_ANCHORS,
    TEACHER_PAPER_SPATIAL,
    TEACHER_PAPER_STUDENT,
)

__all__ = ["confidence_correlation", "teacher_findings", "teacher_table", "readable_table"]


def confidence_correlation(valid: pd.DataFrame, column: str = "confidence") -> tuple[float, float]:
    """Pearson r and p between ``column`` and ``si_sdr`` over mixtures (NaN if undefined)."""
    x, y = valid[column].to_numpy(float), valid["si_sdr"].to_numpy(float)
    if len(x) < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return float("nan"), float("nan")
    r, p = pearsonr(x, y)
    return float(r), float(p)


def _ci(values: np.ndarray, prefix: str) -> dict[str, float]:
    mean, low, high = bootstrap_ci(values)
    return {prefix: mean, f"{prefix}_low": low, f"{prefix}_high": high}


def _student(study: TeacherStudy, room: str, arm: str) -> pd.DataFrame:
    s = study.students
    return s[(s["room"] == room) & (s["arm"] == arm)]


def _teacher_row(study: TeacherStudy, room: str, name: str) -> dict:
    t = study.teachers[(study.teachers["room"] == room) & (study.teachers["teacher"] == name)]
    test, valid = t[t["split"] == "tt"], t[t["split"] == "cv"]
    r, p = confidence_correlation(valid)
    r_cl, p_cl = confidence_correlation(valid, "label_balance")
    row = {**_ci(test["si_sdr"].to_numpy(), "teacher_si_sdr"),
           "teacher_si_sir": test["si_sir"].mean(), "teacher_si_sar": test["si_sar"].mean(),
           "teacher_signal_si_sdr": test["si_sdr_signal"].mean(),
           "conf_r": r, "conf_p": p, "balance_r": r_cl, "balance_p": p_cl,
           "seconds_per_mixture": t["seconds"].mean()}
    for alpha, tag in ((1.0, "student"), (0.0, "student_a0")):
        student = _student(study, room, f"{name}, alpha={alpha:g}")
        if len(student):
            row.update(_ci(student["si_sdr"].to_numpy(), f"{tag}_si_sdr"))
            mean, low, high = paired_scores(student, test, "si_sdr")
            row.update({f"{tag}_gain": mean, f"{tag}_gain_low": low, f"{tag}_gain_high": high})
    row["paper_si_sdr"] = (TEACHER_PAPER_SPATIAL.get(room) if name == "ipd-gmm" else np.nan)
    row["paper_student"] = (TEACHER_PAPER_STUDENT.get(room, np.nan) if name == "ipd-gmm"
                            else np.nan)
    row["issue_anchor"] = TEACHER_ISSUE_ANCHORS.get(room, {}).get(name, np.nan)
    return row


def teacher_table(study: TeacherStudy, room: str) -> pd.DataFrame:
    """The numbers of one room: a row per teacher and one for the ground-truth student."""
    names = [n for n in study.teachers["teacher"].unique()]
    rows = {name: _teacher_row(study, room, name) for name in names}
    gt = _student(study, room, GROUND_TRUTH)
    rows[GROUND_TRUTH] = _ci(gt["si_sdr"].to_numpy(), "student_si_sdr")
    mix = gt["si_sdr_mix"].to_numpy() if len(gt) else np.array([np.nan])
    table = pd.DataFrame.from_dict(rows, orient="index").rename_axis("teacher")
    table.attrs["mixture_si_sdr"] = float(np.mean(mix))
    return table


def _cell(table: pd.DataFrame, name: str, prefix: str, sign: bool = False) -> str:
    row = table.loc[name]
    if prefix not in row or pd.isna(row[prefix]):
        return ""
    return format_ci(row[prefix], row[f"{prefix}_low"], row[f"{prefix}_high"], sign=sign)


def _num(value: float, digits: int = 2) -> str:
    return "" if pd.isna(value) else f"{value:.{digits}f}"


def readable_table(table: pd.DataFrame) -> pd.DataFrame:
    """The Markdown view of :func:`teacher_table`: ``mean [low, high]`` strings."""
    out = {}
    for name in table.index:
        row = table.loc[name]
        p = row.get("conf_p", np.nan)
        out[name] = {
            "teacher SI-SDR": _cell(table, name, "teacher_si_sdr"),
            "SI-SIR": _num(row.get("teacher_si_sir", np.nan)),
            "SI-SAR": _num(row.get("teacher_si_sar", np.nan)),
            "signals": _num(row.get("teacher_signal_si_sdr", np.nan)),
            "conf. r (p)": "" if pd.isna(p) else f"{row['conf_r']:.2f} ({p:.1e})",
            "student SI-SDR (a=1)": _cell(table, name, "student_si_sdr"),
            "student - teacher": _cell(table, name, "student_gain", sign=True),
            "student (a=0)": _cell(table, name, "student_a0_si_sdr"),
            "paper": _num(row.get("paper_si_sdr", np.nan), 1),
            "issue 12 trial": _num(row.get("issue_anchor", np.nan), 1),
        }
    return pd.DataFrame.from_dict(out, orient="index").rename_axis("teacher")


def _excludes_zero(low: float, high: float) -> str:
    return "above" if low > 0 else ("below" if high < 0 else "not distinguishable from")


def _room_lines(study: TeacherStudy, room: str, table: pd.DataFrame) -> list[str]:
    teachers = table.drop(index=GROUND_TRUTH).dropna(subset=["student_si_sdr"])
    strongest, weakest = (teachers["teacher_si_sdr"].idxmax(), teachers["teacher_si_sdr"].idxmin())
    s_strong = _student(study, room, f"{strongest}, alpha=1")
    s_weak = _student(study, room, f"{weakest}, alpha=1")
    diff = paired_scores(s_strong, s_weak, "si_sdr")
    lines = [f"**{room}**: the strongest teacher with a student, {strongest} "
             f"({_cell(table, strongest, 'teacher_si_sdr')} dB), gives a student "
             f"{format_ci(*diff, sign=True)} dB against the weakest teacher's ({weakest}): "
             f"{_excludes_zero(diff[1], diff[2])} it."]
    if len(teachers) > 2:
        rho = teachers[["teacher_si_sdr", "student_si_sdr"]].corr(method="spearman").iloc[0, 1]
        lines.append(f"{room}: Spearman rank correlation of teacher and student SI-SDR over "
                     f"the {len(teachers)} teachers: {rho:.2f}.")
    beat = [n for n in teachers.index if teachers.loc[n, "student_gain_low"] > 0]
    lines.append(f"{room}: students above their teacher (paired CI above 0): "
                 f"{', '.join(beat) if beat else 'none'}; the best student - teacher is "
                 f"{_cell(table, teachers['student_gain'].idxmax(), 'student_gain', True)} dB "
                 f"({teachers['student_gain'].idxmax()}).")
    best_student = teachers["student_si_sdr"].idxmax()
    best = _student(study, room, f"{best_student}, alpha=1")
    gain = bootstrap_ci(best["si_sdri"].to_numpy())
    lines.append(f"{room}: bootstrapping {'works' if gain[1] > 0 else 'does not work'} here: "
                 f"the best student ({best_student}) improves on the mixture by "
                 f"{format_ci(*gain, sign=True)} dB SI-SDR; the ground-truth student reaches "
                 f"{_cell(table, GROUND_TRUTH, 'student_si_sdr')} dB.")
    a0 = teachers.dropna(subset=["student_a0_si_sdr"])
    for name in a0.index:
        d = paired_scores(_student(study, room, f"{name}, alpha=1"),
                          _student(study, room, f"{name}, alpha=0"), "si_sdr")
        lines.append(f"{room}: confidence weighting for {name} (alpha = 1 - alpha = 0): "
                     f"{format_ci(*d, sign=True)} dB.")
    every = table.drop(index=GROUND_TRUTH)
    flat = [n for n in every.index if not every.loc[n, "conf_p"] < 0.05]
    lines.append(f"{room}: confidence r with SI-SDR (validation) is not significant at "
                 f"p < 0.05 for: {', '.join(flat) if flat else 'none'}.")
    return lines


def teacher_findings(study: TeacherStudy, tables: dict[str, pd.DataFrame]) -> list[str]:
    """Generated findings: stronger teacher -> stronger student? students above teachers?
    bootstrapping in reverberant rooms?  One line each, every number with its 95% CI."""
    lines = []
    for room, table in tables.items():
        lines += _room_lines(study, room, table)
    lines.append(f"Anchors: the paper's spatial algorithm {TEACHER_PAPER_SPATIAL['anechoic']} "
                 f"dB anechoic / {TEACHER_PAPER_SPATIAL['reverb']} dB reverberant, its alpha = "
                 f"1 student {TEACHER_PAPER_STUDENT['anechoic']} dB (below its teacher); the "
                 f"music follow-up's student {MUSIC_BOOTSTRAP['student']} dB above its teacher "
                 f"{MUSIC_BOOTSTRAP['teacher']} dB.  Our teacher SI-SDR scores the teacher's "
                 "masks on mic 1 (what the student learns from, capped near an ideal ratio "
                 "mask); the 'signals' column scores a BSS teacher's own separated signals, "
                 "the quantity issue 12's trial anchors are closest to.")
    lines.append("Every score (teachers and students) is against the source images at mic 1: "
                 "in the reverberant room the reverberant images, as spatialized wsj0-2mix "
                 "distributes them.")
    return lines
