import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
# Writers log no run/info text unless a test asks (run_info=True): torch and the other
# anchors write none, and the differential tests compare every tag.
os.environ.setdefault("TBLOG_RUN_INFO", "0")
# Helpers (tb, tbserver, paths, workloads) live in tests/support and are imported by name.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "support"))
