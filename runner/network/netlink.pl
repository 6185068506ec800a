# What `ip`, `tc` and `nft` would do to a host of a page's network, by the netlink messages they
# send, from inside the host's holder (execute/holder.pl loads this file with a host's first such
# request). Starting those programs cost 10-25 ms each on a small machine, two or three per host
# and link, at every page run; a message costs well under one. The rules and queues are the
# kernel's own (tbf, nftables); only the programs that would have asked for them are left out.
# `nft list ruleset` and `tc qdisc show` in the namespace show what these made (test/network.test.ts).
# Each sub answers true, or false with $! the kernel's errno.
use strict;
use warnings;

use constant {
  NLM_F_REQUEST => 0x1, NLM_F_ACK => 0x4, NLM_F_EXCL => 0x200, NLM_F_CREATE => 0x400, NLM_F_APPEND => 0x800,
  NLA_F_NESTED => 0x8000, NETLINK_ROUTE => 0, NETLINK_NETFILTER => 12,
};

# An attribute: length, type, then the value, padded to 4 bytes. A nested one holds others.
sub rtattr {
  my ($type, $value) = @_;
  my $attr = pack("S S", 4 + length($value), $type) . $value;
  return $attr . ("\0" x ((4 - length($attr) % 4) % 4));
}
sub nested { return rtattr(NLA_F_NESTED | $_[0], $_[1]); }

# Sends messages ([type, flags, body], ..) in one write, as one nftables batch is, and reads the
# answers until every message that asked for an ACK has one; an error answer ends it at once.
sub talk {
  my ($protocol, @messages) = @_;
  socket(my $nl, 16, 3, $protocol) or return 0;    # AF_NETLINK, SOCK_RAW
  my ($data, %waiting) = ("");
  my $seq = 0;
  for (@messages) {
    my ($type, $flags, $body) = @$_;
    $waiting{++$seq} = 1 if $flags & NLM_F_ACK;
    $data .= pack("L S S L L", 16 + length($body), $type, NLM_F_REQUEST | $flags, $seq, 0) . $body;
  }
  send($nl, $data, 0) or return 0;
  while (%waiting) {
    defined(recv($nl, my $answer, 65536, 0)) or return 0;
    while (length($answer) >= 16) {
      my ($length, $type, undef, $of) = unpack("L S S L", $answer);
      last if $length < 16;
      if ($type == 2) {    # NLMSG_ERROR: an ACK when its error is 0, else minus an errno
        my $error = unpack("x16 l", $answer);
        if ($error != 0) { $! = -$error; return 0; }
        delete $waiting{$of};
      }
      substr($answer, 0, ($length + 3) & ~3, "");
    }
  }
  return 1;
}

# RTM_NEWLINK of a veth pair, as `ip link add A netns PA type veth peer name B netns PB` sends it:
# A's ifinfomsg, name (IFLA_IFNAME) and namespace (IFLA_NET_NS_PID), and IFLA_LINKINFO holding
# the kind and, as VETH_INFO_PEER, B's ifinfomsg, name and namespace.
sub veth {
  my ($a, $pid_a, $b, $pid_b) = @_;
  my $ifinfo = pack("C x S l L L", 0, 0, 0, 0, 0);
  my $end = sub { rtattr(3, "$_[0]\0") . rtattr(19, pack("L", $_[1])) };
  my $peer = rtattr(1, $ifinfo . $end->($b, $pid_b));
  return talk(NETLINK_ROUTE, [16, NLM_F_ACK | NLM_F_EXCL | NLM_F_CREATE, $ifinfo . $end->($a, $pid_a) . rtattr(18, rtattr(1, "veth") . rtattr(2, $peer))]);
}

# RTM_NEWROUTE, as `ip route add SUBNET/BITS via GATEWAY`: an IPv4 unicast route in the main
# table (an rtmsg, then RTA_DST and RTA_GATEWAY).
sub route {
  my ($subnet, $bits, $via) = @_;
  my @ipv4 = map { [/^(\d+)\.(\d+)\.(\d+)\.(\d+)$/] } $subnet, $via;
  if (grep { @$_ != 4 || grep { $_ > 255 } @$_ } @ipv4) { $! = 22; return 0; }
  my $rtmsg = pack("C C C C C C C C L", 2, $bits, 0, 0, 254, 3, 0, 1, 0);    # AF_INET, main, boot, universe, unicast
  return talk(NETLINK_ROUTE, [24, NLM_F_ACK | NLM_F_EXCL | NLM_F_CREATE, $rtmsg . rtattr(1, pack("C4", @{ $ipv4[0] })) . rtattr(5, pack("C4", @{ $ipv4[1] }))]);
}

# RTM_NEWQDISC of a root tbf, as `tc qdisc add dev DEV root tbf rate BITSbit burst BURST latency
# MSms` sends it: a tc_tbf_qopt (the rate, no peak rate, the queue's limit in bytes, the bucket
# in 64 ns ticks) and the bucket in bytes (TCA_TBF_BURST, which the kernel goes by). tc also
# sends a table of transmit times, which the kernel needs only for a rate whose link layer is
# not said: this one says Ethernet.
sub rate {
  my ($dev, $bits, $burst, $latency_ms) = @_;
  my $index = main::index_of($dev) or do { $! = 19; return 0 };    # ENODEV
  my $bytes = int($bits / 8) or do { $! = 22; return 0 };
  my $spec = sub { pack("C C S s S L", 0, 1, 0, 0, 0, $_[0]) };    # tc_ratespec: linklayer 1 (Ethernet)
  my $qopt = $spec->($bytes > 0xffffffff ? 0xffffffff : $bytes) . $spec->(0) . pack("L L L", int($bytes * $latency_ms / 1000) + $burst, int($burst * 1e9 / $bytes / 64), 0);
  my $options = rtattr(1, $qopt) . rtattr(6, pack("L", $burst)) . ($bytes > 0xffffffff ? rtattr(4, pack("Q", $bytes)) : "");
  my $tcmsg = pack("C x S l L L L", 0, 0, $index, 0, 0xffffffff, 0);    # parent: root
  return talk(NETLINK_ROUTE, [36, NLM_F_ACK | NLM_F_EXCL | NLM_F_CREATE, $tcmsg . rtattr(1, "tbf\0") . rtattr(2, $options)]);
}

# The nftables batch `nft -f` sends for
#   table netdev lectern {
#     chain loss-K { type filter hook egress device "DEV" priority 0;
#       meta protocol ip numgen random mod 10000 < T dup to "DROP" drop
#       meta protocol ip6 numgen random mod 10000 < T dup to "DROP" drop } }
# On the way out of DEV, a packet drawn (T in 10000) is copied to DROP, then dropped. Every number
# is big-endian but the random number, which byteorder turns so that cmp's "<" can compare it,
# and the drop device's index, which dup reads as it is.
sub loss {
  my ($k, $dev, $threshold, $drop) = @_;
  my $drop_index = main::index_of($drop) or do { $! = 19; return 0 };
  my $be = sub { pack("N", $_[0]) };
  # One expression of the rule's list (NFTA_LIST_ELEM): its name, and its attributes.
  my $expr = sub { my ($name, $data) = @_; nested(1, rtattr(1, "$name\0") . nested(2, $data)) };
  my $cmp = sub { my ($op, $value) = @_; $expr->("cmp", rtattr(1, $be->(1)) . rtattr(2, $be->($op)) . nested(3, rtattr(1, $value))) };
  my @tail = (
    $expr->("numgen", rtattr(1, $be->(1)) . rtattr(2, $be->(10000)) . rtattr(3, $be->(1))),    # random mod 10000 -> reg 1
    $expr->("byteorder", rtattr(1, $be->(1)) . rtattr(2, $be->(1)) . rtattr(3, $be->(1)) . rtattr(4, $be->(4)) . rtattr(5, $be->(4))),
    $cmp->(2, $be->($threshold)),    # NFT_CMP_LT
    $expr->("immediate", rtattr(1, $be->(1)) . nested(2, rtattr(1, pack("L", $drop_index)))),
    $expr->("dup", rtattr(2, $be->(1))),    # NFTA_DUP_SREG_DEV
    $expr->("immediate", rtattr(1, $be->(0)) . nested(2, nested(2, rtattr(1, $be->(0))))),    # verdict: NF_DROP
  );
  my $nfgen = pack("C C n", 5, 0, 0);    # NFPROTO_NETDEV
  my ($table, $chain) = (rtattr(1, "lectern\0"), "loss-$k\0");
  my $new = sub { [(10 << 8) | $_[0], NLM_F_ACK | NLM_F_CREATE | ($_[1] // 0), $nfgen . $_[2]] };    # NFNL_SUBSYS_NFTABLES
  my @rules = map {
    my $protocol = $_;
    my $match = $expr->("meta", rtattr(2, $be->(1)) . rtattr(1, $be->(1))) . $cmp->(0, pack("n", $protocol));    # meta protocol == ..
    $new->(6, NLM_F_APPEND, $table . rtattr(2, $chain) . nested(4, join("", $match, @tail)));
  } 0x0800, 0x86dd;
  return talk(
    NETLINK_NETFILTER,
    [0x10, 0, pack("C C n", 0, 0, 10)],    # NFNL_MSG_BATCH_BEGIN
    $new->(0, 0, $table),    # NFT_MSG_NEWTABLE, there already for a host's second lossy link
    $new->(3, 0, $table . rtattr(3, $chain) . nested(4, rtattr(1, $be->(1)) . rtattr(2, $be->(0)) . rtattr(3, "$dev\0")) . rtattr(7, "filter\0")),
    @rules,
    [0x11, 0, pack("C C n", 0, 0, 10)],    # NFNL_MSG_BATCH_END
  );
}

1;
