# Holds a page's network namespace open (Lectern started it with `unshare --net`) and the page's
# named ports inside it, so that no cell of the page can bind a number before the server that
# names it. Perl because perl-base is in every Debian system and starts in a few milliseconds; it
# is Lectern's helper, never run as a cell.
#
# Lectern writes one request per line on stdin and reads one answer per line:
#   hold N  -> held P1 .. PN   N ports, each bound for TCP (listening) and for UDP, on every address
#   take P1 .. PN -> took P1 .. PN   the same numbers, held here too (another host of the page's
#                                   network: a port's number is the page's, on every host)
#   free P  -> freed P         lets go of P: the server that names it is about to start
# and, for a host of a page's network (runner/network/build.ts), what `ip` would do in the
# namespace, by the same ioctls and files, so that a host costs no process of its own:
#   quiet          -> ok   devices made here from now on get no IPv6 link-local address
#   addr DEV A/N   -> ok   IPv4 address A with prefix length N on DEV
#   up DEV         -> ok
#   forward        -> ok   IPv4 forwarding on (a router)
#   index DEV ..   -> index I ..   the devices' numbers (0: no such device)
# and what `ip`, `tc` and `nft` would send by netlink (runner/network/netlink.pl, loaded by the
# first of these):
#   veth A PA B PB -> ok   a veth pair: end A in the network namespace of process PA, B in PB's
#   route S/N GW   -> ok   a route to subnet S/N through GW
#   rate DEV BITS BURST MS -> ok   a root tbf on DEV: BITS a second, a BURST-byte bucket, MS of queue
#   loss K DEV T DROP      -> ok   on DEV's way out, T packets in 10000 copied to DROP and dropped
#                                  (nftables: table netdev lectern, chain loss-K)
# A request that fails answers `error WHAT: WHY`.
# End of input means Lectern is gone: so is the namespace.
use strict;
use warnings;
# Linux's numbers and layouts, written out: the Socket module took longer to load (about 17 ms
# here) than the rest of the holder, at every page run. These are the same on every architecture.
use constant { AF_INET => 2, AF_INET6 => 10, SOCK_STREAM => 1, SOCK_DGRAM => 2, IPPROTO_IPV6 => 41, IPV6_V6ONLY => 26 };

# struct sockaddr_in and sockaddr_in6: the family in the host's order, the port in the network's.
sub sockaddr_in { my ($port, $address) = @_; return pack("S n a4 x8", AF_INET, $port, $address); }
sub sockaddr_in6 { my ($port, $address) = @_; return pack("S n N a16 N", AF_INET6, $port, 0, $address, 0); }
# The port of either, as getsockname gives it.
sub port_of { return unpack("x2 n", $_[0]); }

$| = 1;

# --own: make the namespace ourselves (root, on x86_64 or arm64), instead of being started in one
# by `unshare --net` under `setpriv --pdeathsig`: two programs fewer to start for every page run.
if (@ARGV && $ARGV[0] eq "--own") {
  my ($unshare, $prctl) = $ARGV[1] eq "arm64" ? (97, 167) : (272, 157);
  syscall($prctl, 1, 9) == 0 or exit 1;          # PR_SET_PDEATHSIG, SIGKILL: we die with Lectern
  exit 0 if getppid() == 1;                        # Lectern died before that took hold
  syscall($unshare, 0x40000000) == 0 or exit 1;   # CLONE_NEWNET
}

# The ioctls on a device: an ifreq is its name in 16 bytes, then a 24-byte union.
socket(my $ctl, AF_INET, SOCK_DGRAM, 0) or exit 1;

# SIOCGIFFLAGS, then SIOCSIFFLAGS with IFF_UP: what `ip link set DEV up` makes.
sub up {
  my ($dev) = @_;
  my $ifreq = pack("a16 x24", $dev);
  ioctl($ctl, 0x8913, $ifreq) or return 0;
  my $flags = unpack("x16 s", $ifreq);
  return ioctl($ctl, 0x8914, pack("a16 s x22", $dev, $flags | 1));
}

up("lo") or exit 1;
print "up\n";

# The wildcard of IPv6 without V6ONLY covers IPv4 too: nobody can bind the port on 127.0.0.1,
# ::1 or any other address while it is held. Without IPv6 in the kernel, IPv4's wildcard.
my $six = socket(my $probe, AF_INET6, SOCK_DGRAM, 0);
my $family = $six ? AF_INET6 : AF_INET;

sub bound {
  my ($type, $port) = @_;
  socket(my $s, $family, $type, 0) or return undef;
  if ($six) { setsockopt($s, IPPROTO_IPV6, IPV6_V6ONLY, 0) or return undef; }
  my $addr = $six ? sockaddr_in6($port, "\0" x 16) : sockaddr_in($port, "\0" x 4);
  bind($s, $addr) or return undef;
  # Listening, so that a later bind conflicts even when it asks for SO_REUSEADDR (Node does).
  if ($type == SOCK_STREAM) { listen($s, 1) or return undef; }
  return $s;
}

my %held;

sub hold_one {
  for (1 .. 100) {
    my $tcp = bound(SOCK_STREAM, 0) or next;
    my $port = port_of(getsockname($tcp));
    my $udp = bound(SOCK_DGRAM, $port) or next;
    $held{$port} = [$tcp, $udp];
    return $port;
  }
  return 0;
}

sub ipv4 {
  my @octets = $_[0] =~ /^(\d+)\.(\d+)\.(\d+)\.(\d+)$/ or return undef;
  return undef if grep { $_ > 255 } @octets;
  return sockaddr_in(0, pack("C4", @octets));
}
sub mask { my ($bits) = @_; return sockaddr_in(0, pack("N", $bits == 0 ? 0 : (0xffffffff << (32 - $bits)) & 0xffffffff)); }

sub sysctl {
  my ($path, $value) = @_;
  open(my $f, ">", "/proc/sys/net/$path") or return 0;
  print $f "$value\n" or return 0;
  return close($f);
}

# SIOCSIFADDR then SIOCSIFNETMASK, each an ifreq holding a sockaddr_in.
sub addr {
  my ($dev, $address, $bits) = @_;
  my $sa = ipv4($address) // return 0;
  return ioctl($ctl, 0x8916, pack("a16 a16 x8", $dev, $sa)) && ioctl($ctl, 0x891c, pack("a16 a16 x8", $dev, mask($bits)));
}

# SIOCGIFINDEX.
sub index_of {
  my $ifreq = pack("a16 x24", $_[0]);
  return ioctl($ctl, 0x8933, $ifreq) ? unpack("x16 l", $ifreq) : 0;
}

sub answer { my ($what, $ok) = @_; print $ok ? "ok\n" : "error $what: $!\n"; }

while (my $line = <STDIN>) {
  chomp $line;
  if ($line =~ /^hold (\d+)$/) {
    my @ports = map { hold_one() } 1 .. $1;
    print "held @ports\n";
  } elsif ($line =~ /^take ([\d ]+)$/) {
    my @ports = map { my $tcp = bound(SOCK_STREAM, $_); my $udp = $tcp && bound(SOCK_DGRAM, $_); $held{$_} = [$tcp, $udp] if $udp; $udp ? $_ : 0 } split / /, $1;
    print "took @ports\n";
  } elsif ($line =~ /^free (\d+)$/) {
    if (my $pair = delete $held{$1}) { close($_) for @$pair; }
    print "freed $1\n";
  } elsif ($line eq "quiet") {
    answer("quiet", sysctl("ipv6/conf/default/addr_gen_mode", 1) || !-e "/proc/sys/net/ipv6");
  } elsif ($line =~ /^addr (\S+) ([\d.]+)\/(\d+)$/) {
    answer("addr $1", addr($1, $2, $3));
  } elsif ($line =~ /^up (\S+)$/) {
    answer("up $1", up($1));
  } elsif ($line =~ /^(veth|route|rate|loss) /) {
    require((__FILE__ =~ s{[^/]*$}{}r) . "../network/netlink.pl");
    if ($line =~ /^veth (\S+) (\d+) (\S+) (\d+)$/) {
      answer("veth $1 $3", veth($1, $2, $3, $4));
    } elsif ($line =~ /^route ([\d.]+)\/(\d+) ([\d.]+)$/) {
      answer("route $1/$2", route($1, $2, $3));
    } elsif ($line =~ /^rate (\S+) (\d+) (\d+) (\d+)$/) {
      answer("rate on $1", rate($1, $2, $3, $4));
    } elsif ($line =~ /^loss (\d+) (\S+) (\d+) (\S+)$/) {
      answer("loss on $2", loss($1, $2, $3, $4));
    } else {
      print "error malformed request\n";
    }
  } elsif ($line eq "forward") {
    answer("forward", sysctl("ipv4/ip_forward", 1));
  } elsif ($line =~ /^index ([\w. -]+)$/) {
    print "index ", join(" ", map { index_of($_) } split / /, $1), "\n";
  } else {
    print "error unknown request\n";
  }
}
