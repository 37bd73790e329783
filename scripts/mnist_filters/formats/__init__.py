"""The file formats that several stages read, with their writers and readers, TensorFlow-free:
training_log.csv, snapshots.h5 and evolution.csv, features.h5."""
