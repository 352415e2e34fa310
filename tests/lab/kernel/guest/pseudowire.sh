# The man page's pseudowire, as the guest's site B (kernel l2tp_eth): host 192.0.2.1 <-> guest 192.0.2.2.
set -e
ip addr add 192.0.2.2/24 dev "$GUEST_NIC"
ip l2tp add tunnel tunnel_id 4000 peer_tunnel_id 3000 encap udp local 192.0.2.2 remote 192.0.2.1 udp_sport 6000 udp_dport 5000
ip l2tp add session tunnel_id 4000 session_id 2000 peer_session_id 1000
ip link set l2tpeth0 up
ip addr add 198.51.100.2 peer 198.51.100.1 dev l2tpeth0
