# Delays one link of a page's network: a packet relay between two TUN devices, because a kernel
# without netem (these machines' has none) cannot delay packets itself. Lectern starts it in one
# host's network namespace; device B is made in (or moved to) the other host's: the relay keeps
# its file descriptors, so it relays between the two namespaces. Perl because perl-base is in
# every Debian system and starts in a few milliseconds; core modules only, and few of them (each
# costs a page run milliseconds). Lectern's helper, never run as a cell.
#
#   perl relay.pl DELAY_MS A B [PEER_NETNS [A_ADDRESS/PREFIX B_ADDRESS/PREFIX]]
#
# Creates TUN devices A and B (point to point, no ARP, no packet information header) and prints
# `up`. With PEER_NETNS (a file such as /proc/PID/ns/net) B is created in that namespace rather
# than in the relay's own; with the two addresses too, each end gets its address, no IPv6 (so no
# neighbour discovery on the link) and is set up: the link is ready at `up`, without a process
# of `ip` per step. Every packet read from A is written to B DELAY_MS later, and B to A, each
# direction in order. At most QUEUE packets wait in a direction; one more is dropped and counted.
# A line `count` on stdin is answered `count AB BA DROPPED_AB DROPPED_BA`. End of input means
# Lectern is gone: so is the relay (and the devices with it).
use strict;
use warnings;
use Config;
use Time::HiRes qw(time);

use constant QUEUE => 1000;
use constant MTU_READ => 65536;
# Packets read from one device before the relay looks at the other: a flood on one direction
# cannot starve the other.
use constant BURST => 64;
# Linux's numbers, written out: Fcntl, Errno and Socket would cost more to load than the relay
# takes to start. These are the generic architectures' (x86, arm, riscv), the ones Lectern runs on.
use constant { O_RDWR => 2, O_NONBLOCK => 0x800, EINTR => 4, EAGAIN => 11, EBADFD => 77 };
use constant { AF_INET => 2, SOCK_DGRAM => 2, IFF_UP => 0x1, IFF_TUN => 0x0001, IFF_NO_PI => 0x1000 };
use constant { SIOCGIFFLAGS => 0x8913, SIOCSIFFLAGS => 0x8914, SIOCSIFADDR => 0x8916, SIOCSIFNETMASK => 0x891c };
# _IOW('T', 202, int) in the generic layout of ioctl numbers: 0x400454ca.
use constant TUNSETIFF => (1 << 30) | (4 << 16) | (ord('T') << 8) | 202;
use constant { CLONE_NEWNET => 0x40000000, PR_SET_PDEATHSIG => 1, SIGKILL => 9 };
# System call numbers, by architecture: [setns, prctl].
my %SYSCALL = (x86_64 => [308, 157], aarch64 => [268, 167], riscv64 => [268, 167]);
my $arch = (split /-/, $Config{archname})[0];
my ($SETNS, $PRCTL) = @{ $SYSCALL{$arch} // [] };

$| = 1;
# Killed when Lectern dies, even by SIGKILL: what setpriv --pdeathsig does, without its exec.
# Had Lectern died before this, stdin is already at its end, and the relay ends at once anyway.
syscall($PRCTL, PR_SET_PDEATHSIG, SIGKILL) if defined $PRCTL;
my ($delay_ms, $name_a, $name_b, $peer, @addresses) = @ARGV;
die "usage: relay.pl DELAY_MS A B [PEER_NETNS [A_ADDRESS/PREFIX B_ADDRESS/PREFIX]]\n"
  unless defined $name_b && $delay_ms =~ /^\d+(\.\d+)?$/ && (@addresses == 0 || @addresses == 2);
for ($name_a, $name_b) { die "'$_' is not an interface name\n" unless /^[A-Za-z0-9_.-]{1,15}$/; }
my $delay = $delay_ms / 1000;

# A TUN device of this name, in the namespace the relay is in when it opens /dev/net/tun.
sub tun {
  my ($name) = @_;
  sysopen(my $fh, "/dev/net/tun", O_RDWR | O_NONBLOCK) or die "cannot open /dev/net/tun: $!\n";
  # struct ifreq: the name (16 bytes), then the flags in a union of 24.
  ioctl($fh, TUNSETIFF, pack("Z16 s x22", $name, IFF_TUN | IFF_NO_PI)) or die "cannot create TUN device $name (TUNSETIFF): $!\n";
  binmode $fh;
  return $fh;
}

# Gives the device its IPv4 address and prefix, turns IPv6 off on it and sets it up, as
# `ip addr add` and `ip link set up` would, in the relay's current namespace.
sub configure {
  my ($name, $cidr) = @_;
  my @octets = $cidr =~ m{^(\d+)\.(\d+)\.(\d+)\.(\d+)/(\d+)$} or die "'$cidr' is not an address/prefix\n";
  my $prefix = pop @octets;
  die "'$cidr' is not an address/prefix\n" if grep({ $_ > 255 } @octets) || $prefix < 1 || $prefix > 32;
  socket(my $s, AF_INET, SOCK_DGRAM, 0) or die "socket: $!\n";
  my $sockaddr = sub { pack("Z16 S n C4 x8 x8", $name, AF_INET, 0, @_) };
  my $mask = (0xffffffff << (32 - $prefix)) & 0xffffffff;
  ioctl($s, SIOCSIFADDR, $sockaddr->(@octets)) or die "cannot give $name the address $cidr: $!\n";
  ioctl($s, SIOCSIFNETMASK, $sockaddr->(unpack("C4", pack("N", $mask)))) or die "cannot give $name the prefix /$prefix: $!\n";
  # No IPv6 address, so no router solicitations or listener reports in the link's capture. A
  # kernel without IPv6 has no such file, and nothing to turn off.
  if (open(my $v6, ">", "/proc/sys/net/ipv6/conf/$name/disable_ipv6")) { print $v6 "1\n"; close $v6; }
  my $ifr = pack("Z16 x24", $name);
  ioctl($s, SIOCGIFFLAGS, $ifr) or die "cannot read the flags of $name: $!\n";
  my $flags = unpack("x16 s", $ifr);
  ioctl($s, SIOCSIFFLAGS, pack("Z16 s x22", $name, $flags | IFF_UP)) or die "cannot set $name up: $!\n";
}

# Moves the relay itself into the namespace in `path`: what it opens from then on is there.
sub enter {
  my ($path) = @_;
  die "setns: its system call number on $arch is not known here\n" unless defined $SETNS;
  open(my $ns, "<", $path) or die "cannot open $path: $!\n";
  syscall($SETNS, fileno($ns), CLONE_NEWNET) == 0 or die "cannot enter the network namespace $path: $!\n";
}

my @fh = (tun($name_a));
configure($name_a, $addresses[0]) if @addresses;
enter($peer) if defined $peer;
push @fh, tun($name_b);
configure($name_b, $addresses[1]) if @addresses;
print "up\n";

# Per direction (0: A to B, 1: B to A): packets waiting, each [due time, bytes]; counters.
my @queue = ([], []);
my @relayed = (0, 0);
my @dropped = (0, 0);
my $stdin_open = 1;
my $input = "";

sub take {
  my ($dir) = @_;
  for (1 .. BURST) {
    my $n = sysread($fh[$dir], my $packet, MTU_READ);
    if (!defined $n) {
      return if $! == EAGAIN || $! == EINTR;
      # The device went with the namespace it was in (its host was torn down): the link is gone.
      exit 0 if $! == EBADFD;
      die "reading " . ($dir ? $name_b : $name_a) . ": $!\n";
    }
    return if $n == 0;
    if (@{ $queue[$dir] } >= QUEUE) { $dropped[$dir]++; next; }
    push @{ $queue[$dir] }, [time + $delay, $packet];
  }
}

sub deliver {
  my ($now) = @_;
  for my $dir (0, 1) {
    my $q = $queue[$dir];
    while (@$q && $q->[0][0] <= $now) {
      my $packet = shift(@$q)->[1];
      # A device that is down (not yet set up, or being moved) refuses the packet: lost, as on
      # a wire that is not plugged in.
      if (defined syswrite($fh[1 - $dir], $packet)) { $relayed[$dir]++; }
      else { $dropped[$dir]++; }
    }
  }
}

sub answer {
  my $n = sysread(STDIN, my $chunk, 4096);
  if (!defined $n) { return if $! == EINTR || $! == EAGAIN; $n = 0; }
  if ($n == 0) { $stdin_open = 0; return; }
  $input .= $chunk;
  while ($input =~ s/^([^\n]*)\n//) {
    print "count @relayed @dropped\n" if $1 eq "count";
  }
}

while ($stdin_open) {
  my $rin = "";
  vec($rin, fileno($_), 1) = 1 for @fh, \*STDIN;
  my $next;
  for my $q (@queue) { $next = $q->[0][0] if @$q && (!defined $next || $q->[0][0] < $next); }
  my $wait = defined $next ? $next - time : undef;
  $wait = 0 if defined $wait && $wait < 0;
  my $ready = select(my $rout = $rin, undef, undef, $wait);
  if ($ready > 0) {
    take($_) for grep { vec($rout, fileno($fh[$_]), 1) } 0, 1;
    answer() if vec($rout, fileno(STDIN), 1);
  }
  deliver(time);
}
