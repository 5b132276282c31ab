/*
 * udpflood: a small-packet UDP load generator and counter for scripts/measure-forwarding.sh (issue 15).
 *
 * iperf3's UDP sender writes one datagram per syscall and tops out near 90 kpps on the lab machine, below what the
 * forwarding path under test may carry; this tool sends pre-built datagrams 64 per sendmmsg and counts them 64 per
 * recvmmsg, so the generator is not the bottleneck it measures.
 *
 *   udpflood send DST_IPV4 PORT SECONDS [PAYLOAD_BYTES=36] [RATE_PPS=0]
 *       Sends PAYLOAD_BYTES-byte datagrams (36 + 8 UDP + 20 IPv4 = a 64-byte IP packet) to DST for SECONDS, as fast as the
 *       socket takes them (or paced to RATE_PPS), each from a different source port of 16 (so that flow hashing spreads
 *       them). Prints: "sent N pps" (datagrams the kernel accepted per second; ENOBUFS drops are not counted).
 *   udpflood recv PORT SECONDS
 *       Counts datagrams arriving on PORT; stops SECONDS after the first one, or 1 s after the last once traffic stops.
 *       Prints: "received N pps" (datagrams between the first and the last, divided by that time) and the total.
 *
 * Build: gcc -O2 -Wall -o udpflood udpflood.c
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BATCH 64
#define SOURCES 16

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

static int send_mode(const char *dst, int port, double seconds, int size, double rate)
{
    struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(port) };
    if (inet_pton(AF_INET, dst, &to.sin_addr) != 1) { fprintf(stderr, "bad address %s\n", dst); return 2; }
    int fds[SOURCES];
    for (int s = 0; s < SOURCES; s++) {
        fds[s] = socket(AF_INET, SOCK_DGRAM, 0);
        int buf = 4 << 20;
        setsockopt(fds[s], SOL_SOCKET, SO_SNDBUF, &buf, sizeof buf);
        if (fds[s] < 0 || connect(fds[s], (struct sockaddr *)&to, sizeof to) < 0) { perror("socket/connect"); return 1; }
    }
    static char payload[65536];
    memset(payload, 0x5a, sizeof payload);
    struct iovec iov = { payload, (size_t)size };
    struct mmsghdr msgs[BATCH];
    memset(msgs, 0, sizeof msgs);
    for (int i = 0; i < BATCH; i++) { msgs[i].msg_hdr.msg_iov = &iov; msgs[i].msg_hdr.msg_iovlen = 1; }
    long sent = 0;
    double start = now(), end = start + seconds, t = start;
    for (int s = 0; t < end; s = (s + 1) % SOURCES) {
        if (rate > 0 && sent >= rate * (t - start)) { usleep(100); t = now(); continue; }
        int n = sendmmsg(fds[s], msgs, BATCH, 0);
        if (n > 0) sent += n;
        else if (errno != ENOBUFS && errno != EAGAIN && errno != EINTR && errno != ECONNREFUSED) { perror("sendmmsg"); return 1; }
        t = now();
    }
    printf("sent %.0f pps (%ld in %.2f s)\n", sent / (t - start), sent, t - start);
    return 0;
}

static int recv_mode(int port, double seconds)
{
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    int buf = 16 << 20;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof buf);
    struct timeval tv = { .tv_sec = 1 };
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    struct sockaddr_in me = { .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_ANY) };
    if (fd < 0 || bind(fd, (struct sockaddr *)&me, sizeof me) < 0) { perror("socket/bind"); return 1; }
    static char slots[BATCH][2048];
    struct iovec iov[BATCH];
    struct mmsghdr msgs[BATCH];
    memset(msgs, 0, sizeof msgs);
    for (int i = 0; i < BATCH; i++) {
        iov[i].iov_base = slots[i];
        iov[i].iov_len = sizeof slots[i];
        msgs[i].msg_hdr.msg_iov = &iov[i];
        msgs[i].msg_hdr.msg_iovlen = 1;
    }
    printf("listening\n");
    fflush(stdout);
    long received = 0;
    double first = 0, last = 0, waited = now();
    for (;;) {
        int n = recvmmsg(fd, msgs, BATCH, MSG_WAITFORONE, NULL);
        double t = now();
        if (n > 0) {
            if (received == 0) first = t;
            received += n;
            last = t;
            if (t - first >= seconds) break;
        } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
            if (received > 0 || t - waited > 60) break; /* traffic stopped, or never came */
        } else if (errno != EINTR) { perror("recvmmsg"); return 1; }
    }
    double span = last > first ? last - first : 1;
    printf("received %.0f pps (%ld in %.2f s)\n", received / span, received, span);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 5 && strcmp(argv[1], "send") == 0)
        return send_mode(argv[2], atoi(argv[3]), atof(argv[4]), argc > 5 ? atoi(argv[5]) : 36, argc > 6 ? atof(argv[6]) : 0);
    if (argc >= 4 && strcmp(argv[1], "recv") == 0)
        return recv_mode(atoi(argv[2]), atof(argv[3]));
    fprintf(stderr, "usage: udpflood send DST_IPV4 PORT SECONDS [PAYLOAD_BYTES] [RATE_PPS] | udpflood recv PORT SECONDS\n");
    return 2;
}
