"""lienthong: Project 06 data integration for Vietnam's shared data platform."""

__version__ = "0.1.0"
