"""File formats: PoseTrack 2018 JSON and video."""
