"""Simulated office-robot recordings with known ground truth.

The simulator writes real bags (ROS 2 MCAP or sqlite3, ROS 1) of an RGB-D camera and a LiDAR on
a robot driving towards a glass door, a wooden door or no door, and an annotation file beside each.
"""

from robotops.sim.annotations import LabelFaults
from robotops.sim.bag_writer import BagFormat
from robotops.sim.recording import TOPICS, RecordingSpec, write_recording
from robotops.sim.scene import CLASSES, DoorClass
from robotops.sim.simulate import SimConfig, SimulatedRecording, simulate
from robotops.sim.sites import SITES, Site, get_site

__all__ = [
    "CLASSES",
    "SITES",
    "TOPICS",
    "BagFormat",
    "DoorClass",
    "LabelFaults",
    "RecordingSpec",
    "SimConfig",
    "SimulatedRecording",
    "Site",
    "get_site",
    "simulate",
    "write_recording",
]
