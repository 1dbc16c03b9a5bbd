"""orbridge command line: launcher, profiles, keys, models, doctor, logs."""
