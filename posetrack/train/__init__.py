"""Training in PyTorch: targets, data (synthetic / COCO / PoseTrack), the shared loop, the pose and detector
trainers, held-out evaluation, and the jobs ``posetrack train`` runs (``recipes``)."""
