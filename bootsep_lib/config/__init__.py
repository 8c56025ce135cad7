"""Profiles (sizes, seeds and settings as data) and the stable hash that names cached results."""

from .profiles import (
    PROFILES,
    CurveConfig,
    DataConfig,
    EvidenceConfig,
    Geometry,
    ModelConfig,
    Profile,
    SpatialConfig,
    TeachersConfig,
    TrainConfig,
    config_hash,
    get_profile,
)

__all__ = [
    "PROFILES", "CurveConfig", "DataConfig", "EvidenceConfig", "Geometry", "ModelConfig",
    "Profile", "SpatialConfig", "TeachersConfig", "TrainConfig", "config_hash", "get_profile",
]
