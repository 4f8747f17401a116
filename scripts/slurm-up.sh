#!/usr/bin/env bash
# A real single-node Slurm cluster on localhost, from Debian's slurm-wlm and munge, for the tests:
# partitions `cpu` (default) and `gpu`, one node advertising 16 CPUs and one fake GPU (a /dev/null
# character device, enough for Slurm to schedule --gpus). Idempotent: installs what is missing,
# rewrites the config, and (re)starts the daemons only when they are not running with it.
# Needs root (apt-get, daemons). Facts it relies on: shared/NOTES.md, "A real single-node Slurm".
set -euo pipefail

CONF_DIR=/etc/slurm
STATE=/var/spool/slurmctld
SPOOL=/var/spool/slurmd
LOGS=/var/log/slurm
NODE=$(hostname -s)
CPUS=16
MEMORY_MB=16000

if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
  echo "slurm-up: installing slurm-wlm and munge"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends slurm-wlm munge >/dev/null
fi

# munge: the key comes with the package; munged refuses to run as root.
install -d -o munge -g munge -m 0755 /run/munge
if ! pgrep -x munged >/dev/null; then
  runuser -u munge -- /usr/sbin/munged
fi
for _ in $(seq 50); do munge -n | unmunge >/dev/null 2>&1 && break; sleep 0.1; done

install -d -m 0755 "$CONF_DIR" "$STATE" "$SPOOL" "$LOGS"
config=$(cat <<EOF
# Written by scripts/slurm-up.sh: a single-node test cluster.
ClusterName=lambdahat
SlurmctldHost=$NODE
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=$STATE
SlurmdSpoolDir=$SPOOL
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=$LOGS/slurmctld.log
SlurmdLogFile=$LOGS/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
# Jobs that ask for no memory get 500 MB per CPU, not the whole node (which would run them one at a time).
DefMemPerCPU=500
SchedulerType=sched/backfill
# Start pending batch jobs at once (the default waits 3 s between scheduling passes).
SchedulerParameters=batch_sched_delay=0,sched_min_interval=0
# Keep finished jobs visible to squeue for a day (the default is 300 s).
MinJobAge=86400
# A job whose dependency can never be satisfied is removed, not left pending forever.
DependencyParameters=kill_invalid_depend
# Without slurmdbd there is no sacct: one line per finished job here instead.
JobCompType=jobcomp/filetxt
JobCompLoc=$LOGS/jobcomp.log
# Walltime limits are checked every 30 s; a job gets 10 s to exit after its TERM.
KillWait=10
GresTypes=gpu
# The node advertises more CPUs than the machine has, so arrays of small tasks run side by side.
SlurmdParameters=config_overrides
ReturnToService=2
NodeName=$NODE CPUs=$CPUS Sockets=1 CoresPerSocket=$CPUS ThreadsPerCore=1 RealMemory=$MEMORY_MB Gres=gpu:1 State=UNKNOWN
PartitionName=cpu Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
PartitionName=gpu Nodes=$NODE MaxTime=INFINITE State=UP
EOF
)
gres="AutoDetect=off
NodeName=$NODE Name=gpu File=/dev/null"

changed=0
if [ "$(cat "$CONF_DIR/slurm.conf" 2>/dev/null)" != "$config" ]; then printf '%s\n' "$config" >"$CONF_DIR/slurm.conf"; changed=1; fi
if [ "$(cat "$CONF_DIR/gres.conf" 2>/dev/null)" != "$gres" ]; then printf '%s\n' "$gres" >"$CONF_DIR/gres.conf"; changed=1; fi

if [ "$changed" = 1 ]; then
  pkill -x slurmd 2>/dev/null || true
  pkill -x slurmctld 2>/dev/null || true
  for _ in $(seq 50); do pgrep -x slurmctld >/dev/null || pgrep -x slurmd >/dev/null || break; sleep 0.1; done
fi
pgrep -x slurmctld >/dev/null || slurmctld
pgrep -x slurmd >/dev/null || slurmd

for _ in $(seq 100); do
  state=$(sinfo -h -n "$NODE" -o '%T' 2>/dev/null | head -1 || true)
  case "$state" in
    idle*|mixed*|allocated*) echo "slurm-up: node $NODE is $state (partitions: $(sinfo -h -o '%P' | tr '\n' ' '))"; exit 0 ;;
    down*|drain*|fail*) scontrol update nodename="$NODE" state=resume 2>/dev/null || true ;;
  esac
  sleep 0.2
done
echo "slurm-up: the node did not come up; see $LOGS/slurmctld.log and $LOGS/slurmd.log" >&2
exit 1
