"""The Perception-R1 rewards inside other RL frameworks: verl (verl.py, verl_manager.py, verl_check.py) and EasyR1
(easyr1.py), with their shared scoring (scoring.py) and the data layouts they read (export.py)."""
