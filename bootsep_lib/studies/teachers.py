"""The teacher study (notebook 07): does a stronger blind teacher bootstrap a stronger student?

For every room of ``profile.teachers.rooms`` (anechoic and reverberant subsets of the corpus,
which hold the same mixtures) and every teacher of ``profile.teachers.teachers``:

1. the teacher on the first ``n_train`` / ``n_valid`` / ``n_test`` mixtures of the
   ``tr`` / ``cv`` / ``tt`` splits (:func:`~bootsep_lib.studies.teacher_stage.teacher_stage`,
   in parallel over cores);
2. a student -- the profile's single-channel DC network and schedule (``train``, with
   ``teachers.epochs`` if set), shared by every arm -- trained on the teacher's pseudo labels
   with confidence weights ``alpha = 1``; for the teacher best on the validation mixtures also
   ``alpha = 0``; and the ground-truth model per room (the ceiling);
3. every student evaluated on channel 1 of the test mixtures
   (:func:`~bootsep_lib.studies.evaluation.evaluate_model`).

Every score of every arm, teachers included, is against the source images at mic 1 --
reverberant images in the reverberant room, as spatialized wsj0-2mix distributes them.
Each stage is cached by its own key; the per-mixture tables of a finished study are cached
once more under :data:`TEACHERS_STUDY_VERSION` and the keys of every stage and model.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import pandas as pd

from ..config import Profile, config_hash
from ..data.subsets import Subset, default_subset
from ..data.training_set import TrainingSet
from ..util.cache import cache_entry, cached_table, stage_key
from .evaluation import evaluate_model
from .teacher_stage import teacher_stage
from .training import ModelJob, run_config, train_many

__all__ = ["TEACHERS_STUDY_VERSION", "Arm", "TeacherStudy", "best_teacher", "room_subset",
           "run_teacher_study", "student_arms", "teacher_tables"]

#: Bump when the study's tables change meaning for the same stages and models.
TEACHERS_STUDY_VERSION = 1

#: Name of the ground-truth arm.
GROUND_TRUTH = "ground truth"


def room_subset(profile: Profile, room: str) -> Subset:
    """The corpus subset of ``room``: the main subset's speakers and rate in that condition."""
    main = default_subset(profile)
    return Subset(main.n_speakers, room, main.sample_rate)


def _sizes(profile: Profile) -> dict[str, int]:
    cfg = profile.teachers
    return {"tr": cfg.n_train, "cv": cfg.n_valid, "tt": cfg.n_test}


def teacher_tables(profile: Profile, *, jobs: int = 1, progress: bool = True) -> pd.DataFrame:
    """Every teacher on the validation and test mixtures of every room, one row per mixture.

    Returns
    -------
    pandas.DataFrame
        Columns ``room``, ``teacher``, ``split`` and those of
        :func:`~bootsep_lib.studies.teacher_stage.teacher_mixture`.
    """
    parts = []
    for room in profile.teachers.rooms:
        subset = room_subset(profile, room)
        for name in profile.teachers.teachers:
            for split in ("cv", "tt"):
                stage = teacher_stage(profile, split, subset, name, _sizes(profile)[split],
                                      jobs=jobs, progress=progress)
                parts.append(stage.table.assign(room=room, teacher=name, split=split))
    return pd.concat(parts, ignore_index=True)


def _student_teachers(profile: Profile) -> tuple[str, ...]:
    chosen = profile.teachers.student_teachers
    return profile.teachers.teachers if chosen is None else chosen


def best_teacher(teachers: pd.DataFrame, room: str, among: tuple[str, ...] | None = None) -> str:
    """The teacher (of ``among``, default all) with the highest mean validation SI-SDR."""
    cv = teachers[(teachers["room"] == room) & (teachers["split"] == "cv")]
    if among is not None:
        cv = cv[cv["teacher"].isin(among)]
    return str(cv.groupby("teacher")["si_sdr"].mean().idxmax())


@dataclass(frozen=True)
class Arm:
    """One student: its room, teacher (None: ground truth) and confidence exponent."""

    room: str
    teacher: str | None
    alpha: float

    @property
    def name(self) -> str:
        """``"ground truth"`` or ``"<teacher>, alpha=<a>"``."""
        return GROUND_TRUTH if self.teacher is None else f"{self.teacher}, alpha={self.alpha:g}"


def student_arms(profile: Profile, teachers: pd.DataFrame) -> list[Arm]:
    """Every student: alpha = 1 per student teacher, alpha = 0 for the best, ground truth."""
    arms = []
    names = _student_teachers(profile)
    for room in profile.teachers.rooms:
        arms += [Arm(room, name, 1.0) for name in names]
        arms += [Arm(room, best_teacher(teachers, room, names), 0.0), Arm(room, None, 0.0)]
    return arms


def _student_profile(profile: Profile) -> Profile:
    epochs = profile.teachers.epochs
    return profile if epochs is None else replace(profile, train=replace(profile.train,
                                                                         epochs=epochs))


def _job(profile: Profile, arm: Arm, jobs: int) -> ModelJob:
    subset = room_subset(profile, arm.room)
    sizes = _sizes(profile)
    kind = "ground_truth" if arm.teacher is None else "spatial"
    sets = [TrainingSet(profile, split, targets=kind, alpha=arm.alpha, subset=subset,
                        limit=sizes[split], teacher=arm.teacher, jobs=jobs)
            for split in ("tr", "cv")]
    return ModelJob(run_config(_student_profile(profile), sets[0]), *sets)


@dataclass
class TeacherStudy:
    """Per-mixture results of the study.

    Attributes
    ----------
    teachers : pandas.DataFrame
        :func:`teacher_tables` (validation and test mixtures).
    students : pandas.DataFrame
        One row per (arm, test mixture): ``room``, ``arm``, ``teacher`` (empty for ground
        truth), ``alpha``, ``id`` and :data:`~bootsep_lib.studies.evaluation.METRIC_COLUMNS`.
    """

    teachers: pd.DataFrame
    students: pd.DataFrame


def run_teacher_study(profile: Profile, *, jobs: int = 1, progress: bool = True
                      ) -> TeacherStudy:
    """Teachers, students and their evaluation (every part cached; see the module docstring)."""
    teachers = teacher_tables(profile, jobs=jobs, progress=progress)
    arms = student_arms(profile, teachers)
    model_jobs = [_job(profile, arm, jobs) for arm in arms]
    results = train_many(model_jobs, jobs=jobs, progress=False)
    key = stage_key("teacher_study", TEACHERS_STUDY_VERSION, {
        "models": [r.run_dir.name for r in results],
        "arms": [(a.room, a.teacher, a.alpha) for a in arms],
        "teachers": config_hash(teachers.to_csv(index=False)),
        "n_test": profile.teachers.n_test, "data": profile.data,
    })

    def compute() -> pd.DataFrame:
        parts = []
        for arm, result in zip(arms, results, strict=True):
            table = evaluate_model(profile, result.run_dir, split="tt",
                                   subset=room_subset(profile, arm.room),
                                   limit=profile.teachers.n_test, jobs=jobs, progress=progress)
            parts.append(table.assign(room=arm.room, arm=arm.name, teacher=arm.teacher or "",
                                      alpha=arm.alpha))
        return pd.concat(parts, ignore_index=True)

    students = cached_table(cache_entry("teacher_study", key, ".csv"), compute)
    students["teacher"] = students["teacher"].fillna("")
    return TeacherStudy(teachers, students)
