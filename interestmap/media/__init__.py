"""Decode a clip's media files: frames, audio track, thumbnails."""
