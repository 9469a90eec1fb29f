"""What is learnt from a corpus: audiences (clusters), their names, and the 2-D map."""
