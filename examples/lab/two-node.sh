#!/usr/bin/env bash
# A two-router holdfast lab in network namespaces, to watch a failover.
#
#   sudo examples/lab/two-node.sh demo     # build, start, fail over, clean up
#   sudo examples/lab/two-node.sh up       # start and leave running
#   sudo examples/lab/two-node.sh status   # who holds the VIP
#   sudo examples/lab/two-node.sh kill     # SIGKILL the master
#   sudo examples/lab/two-node.sh down     # stop everything, delete namespaces
#
# Topology: hf-demo-r1 (192.168.77.11, priority 150) and hf-demo-r2
# (192.168.77.12, priority 100) share a bridge with a client hf-demo-c
# (192.168.77.100). The VIP 192.168.77.254 lives on the master. Nothing
# leaves the namespaces.
set -euo pipefail
cd "$(dirname "$0")/../.."
P=hf-demo
DIR=/tmp/hf-demo
VIP=192.168.77.254
BIN=${HOLDFAST_BIN:-target/release/holdfast}

holder() {
    for r in r1 r2; do
        ip -n $P-$r -o addr show dev eth0 2>/dev/null | grep -q " $VIP/" && printf '%s ' $r
    done
    echo
}

up() {
    [[ $(id -u) -eq 0 ]] || { echo "run as root" >&2; exit 1; }
    if ! command -v ip >/dev/null || ! command -v ping >/dev/null; then
        apt-get update -qq && apt-get install -y -qq --no-install-recommends iproute2 iputils-ping
    fi
    [[ -x $BIN ]] || cargo build --release -p holdfast
    down 2>/dev/null || true
    mkdir -p $DIR
    ip netns add $P-sw
    ip -n $P-sw link add br0 type bridge stp_state 0 forward_delay 0
    ip -n $P-sw link set br0 up
    local i=0
    for n in r1 r2 c; do
        i=$((i + 1))
        ip netns add $P-$n
        ip link add eth0 netns $P-$n type veth peer name p-$n netns $P-sw
        ip -n $P-sw link set p-$n master br0 up
        ip -n $P-$n link set lo up
        ip -n $P-$n link set eth0 address 02:00:00:77:00:1$i up
    done
    ip -n $P-r1 addr add 192.168.77.11/24 dev eth0
    ip -n $P-r2 addr add 192.168.77.12/24 dev eth0
    ip -n $P-c addr add 192.168.77.100/24 dev eth0
    for r in r1 r2; do
        prio=$([[ $r == r1 ]] && echo 150 || echo 100)
        cat > $DIR/$r.kdl <<KDL
vrrp-instance "VI_1" {
    interface "eth0"
    virtual-router-id 51
    priority $prio
    advert-interval 0.1
    virtual-ipaddress "$VIP/24"
}
KDL
        ip netns exec $P-$r "$BIN" run --config $DIR/$r.kdl > $DIR/$r.log 2>&1 &
        echo $! > $DIR/$r.pid
    done
    sleep 1
    echo "VIP $VIP on: $(holder)  (logs: $DIR/r1.log, $DIR/r2.log)"
}

kill_master() {
    local m; m=$(holder | awk '{print $1}')
    [[ -n $m ]] || { echo "no master"; return 1; }
    echo "SIGKILL $m at $(date +%T.%N | cut -c1-12)"
    kill -KILL "$(cat $DIR/$m.pid)"
    wait "$(cat $DIR/$m.pid)" 2>/dev/null || true
    for _ in $(seq 100); do
        [[ $(holder) == *r2* ]] && break
        sleep 0.01
    done
    echo "VIP now on: $(holder) at $(date +%T.%N | cut -c1-12)"
    echo "(a SIGKILLed master cannot remove its own VIP; its dead host still lists it, and holdfast removes it when restarted there)"
    echo "client neighbour entry: $(ip -n $P-c neigh show $VIP)"
}

down() {
    for r in r1 r2; do [[ -f $DIR/$r.pid ]] && kill "$(cat $DIR/$r.pid)" 2>/dev/null || true; done
    sleep 0.3
    for n in r1 r2 c sw; do ip netns del $P-$n 2>/dev/null || true; done
    rm -f $DIR/*.pid
}

case ${1:-demo} in
    up) up ;;
    status) echo "VIP $VIP on: $(holder)" ;;
    kill) kill_master ;;
    down) down ;;
    demo)
        up
        ip netns exec $P-c ping -c 2 -i 0.2 $VIP >/dev/null && echo "client reaches the VIP: $(ip -n $P-c neigh show $VIP)"
        sleep 1.2
        kill_master
        down
        ;;
    *) sed -n '2,15p' "$0"; exit 2 ;;
esac
