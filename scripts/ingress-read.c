/*
 * ingress-read: how fast one thread can take the packets routed to a device, without any LISP work (issue 15,
 * docs/benchmarks.md): the floor under the ITR's per-core rate, for the two EID devices the data plane can use.
 *
 *   ingress-read tun SECONDS     creates TUN "ir0" (no packet info), routes 10.99.0.0/24 to it, reads one packet per read()
 *   ingress-read ring SECONDS    reads veth "irp" (whose peer "ir0" the caller routed 10.99.0.0/24 to) through a TPACKET_V3
 *                                ring, 8 blocks of 1 MB, block timeout 1 ms: a block of packets per wake-up, poll() when empty
 *
 * Counts packets from the first one for SECONDS and prints: packets, packets per second, and the reader's own CPU time
 * (getrusage) and packets per CPU-second. scripts/measure-ingress.sh runs both against udpflood in a namespace of its own.
 * Build: gcc -O2 -Wall -o ingress-read ingress-read.c
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

static double cpu(void)
{
    struct rusage r;
    getrusage(RUSAGE_SELF, &r);
    return r.ru_utime.tv_sec + r.ru_utime.tv_usec / 1e6 + r.ru_stime.tv_sec + r.ru_stime.tv_usec / 1e6;
}

static void report(const char *mode, long n, double t, double c)
{
    printf("%s: %ld packets in %.2f s = %.0f packets/s; reader CPU %.2f s = %.2f M packets per CPU-second\n", mode, n, t, n / t, c,
           c > 0 ? n / c / 1e6 : 0.0);
    fflush(stdout);
    sleep(2); /* the device stays until the generator, which runs a second longer, is done */
}

static int tun_mode(double seconds)
{
    int fd = open("/dev/net/tun", O_RDWR);
    struct ifreq r;
    memset(&r, 0, sizeof r);
    r.ifr_flags = IFF_TUN | IFF_NO_PI;
    strcpy(r.ifr_name, "ir0");
    if (fd < 0 || ioctl(fd, TUNSETIFF, &r) < 0) { perror("tun"); return 1; }
    if (system("ip link set ir0 up && ip addr add 10.98.0.1/32 dev ir0 && ip route add 10.99.0.0/24 dev ir0") != 0) return 1;
    fprintf(stderr, "ready\n");
    char buffer[2048];
    long n = 0;
    volatile unsigned sum = 0;
    double t0 = 0, c0 = 0;
    for (;;) {
        ssize_t k = read(fd, buffer, sizeof buffer);
        if (k <= 0) continue;
        if (n++ == 0) { t0 = now(); c0 = cpu(); }
        sum += (unsigned char)buffer[k - 1];
        if ((n & 1023) == 0 && now() - t0 > seconds) break;
    }
    report("tun (read per packet)", n, now() - t0, cpu() - c0);
    return 0;
}

static int ring_mode(double seconds)
{
    int fd = socket(AF_PACKET, SOCK_RAW, 0), version = TPACKET_V3;
    if (fd < 0 || setsockopt(fd, SOL_PACKET, PACKET_VERSION, &version, sizeof version) < 0) { perror("packet socket"); return 1; }
    struct tpacket_req3 q;
    memset(&q, 0, sizeof q);
    q.tp_block_size = 1 << 20;
    q.tp_block_nr = 8;
    q.tp_frame_size = 2048;
    q.tp_frame_nr = q.tp_block_size / q.tp_frame_size * q.tp_block_nr;
    q.tp_retire_blk_tov = 1;
    if (setsockopt(fd, SOL_PACKET, PACKET_RX_RING, &q, sizeof q) < 0) { perror("PACKET_RX_RING"); return 1; }
    char *ring = mmap(0, (size_t)q.tp_block_size * q.tp_block_nr, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (ring == MAP_FAILED) { perror("mmap"); return 1; }
    struct sockaddr_ll a;
    memset(&a, 0, sizeof a);
    a.sll_family = AF_PACKET;
    a.sll_protocol = htons(ETH_P_ALL);
    a.sll_ifindex = if_nametoindex("irp");
    if (bind(fd, (void *)&a, sizeof a) < 0) { perror("bind irp"); return 1; }
    fprintf(stderr, "ready\n");
    long n = 0;
    volatile unsigned sum = 0;
    double t0 = 0, c0 = 0;
    for (unsigned b = 0;; b = (b + 1) % q.tp_block_nr) {
        struct tpacket_block_desc *block = (void *)(ring + (size_t)b * q.tp_block_size);
        while (!(__atomic_load_n(&block->hdr.bh1.block_status, __ATOMIC_ACQUIRE) & TP_STATUS_USER)) {
            struct pollfd p = { fd, POLLIN | POLLERR, 0 };
            poll(&p, 1, 100);
            if (n > 0 && now() - t0 > seconds) goto done;
        }
        if (n == 0) { t0 = now(); c0 = cpu(); }
        struct tpacket3_hdr *h = (void *)((char *)block + block->hdr.bh1.offset_to_first_pkt);
        for (unsigned i = 0; i < block->hdr.bh1.num_pkts; i++, n++) {
            sum += ((unsigned char *)h)[h->tp_mac + h->tp_snaplen - 1];
            h = (void *)((char *)h + h->tp_next_offset);
        }
        __atomic_store_n(&block->hdr.bh1.block_status, TP_STATUS_KERNEL, __ATOMIC_RELEASE);
        if (now() - t0 > seconds) break;
    }
done:
    report("ring (TPACKET_V3 on a veth)", n, now() - t0, cpu() - c0);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 3) { fprintf(stderr, "usage: ingress-read tun|ring SECONDS\n"); return 2; }
    double seconds = atof(argv[2]);
    return strcmp(argv[1], "tun") == 0 ? tun_mode(seconds) : ring_mode(seconds);
}
