# tunneld in a container: build and test in the first stage, run in a slim
# second one as a fixed non-root user.
#
#   docker build -t tunneld .
#   docker run -p 8080:8080 -v tunneld:/var/lib/tunneld tunneld \
#       --public-url https://tunnel.example.com
#
# The build stage runs the commands of tools/install-deps and of the
# README's "Build and install"; tests/integration/dockerfile.sh checks that
# they stay the same.

FROM debian:bookworm AS build
ENV DEBIAN_FRONTEND=noninteractive
RUN apt-get update -q && \
    apt-get install -y --no-install-recommends \
	build-essential autoconf automake autoconf-archive libtool pkg-config \
	libmicrohttpd-dev libwebsockets-dev libcurl4-gnutls-dev libjson-c-dev \
	libgnutls28-dev check \
	curl python3 valgrind ca-certificates gnutls-bin iproute2 \
	openssh-server openssh-client postgresql postgresql-client
WORKDIR /src
COPY . .
# The tests start the daemons on 127.0.0.1 and run as an ordinary user.
RUN useradd --create-home builder && chown -R builder /src
USER builder
RUN autoreconf -fi && ./configure --prefix=/usr --sysconfdir=/etc \
	--localstatedir=/var --with-systemdsystemunitdir=no && \
    make && make check && make install DESTDIR=/tmp/out
USER root
RUN cp -a /tmp/out /out

FROM debian:bookworm-slim
ENV DEBIAN_FRONTEND=noninteractive
RUN apt-get update -q && \
    apt-get install -y --no-install-recommends \
	libmicrohttpd12 libwebsockets17 libcurl3-gnutls libjson-c5 libgnutls30 \
	ca-certificates && \
    rm -rf /var/lib/apt/lists/* && \
    groupadd --system --gid 10001 tunneld && \
    useradd --system --uid 10001 --gid 10001 --home-dir /var/lib/tunneld \
	--no-create-home --shell /usr/sbin/nologin tunneld && \
    install -d -o 10001 -g 10001 -m 0700 /var/lib/tunneld
COPY --from=build /out/ /
USER 10001:10001
VOLUME ["/var/lib/tunneld"]
EXPOSE 8080
# bash's /dev/tcp: no curl in the runtime image.
HEALTHCHECK --interval=30s --timeout=5s --start-period=5s --retries=3 \
    CMD ["/bin/bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/8080 && printf 'GET /health HTTP/1.0\\r\\nHost: localhost\\r\\n\\r\\n' >&3 && head -n 1 <&3 | grep -q ' 200 '"]
ENTRYPOINT ["/usr/sbin/tunneld", "--listen", "0.0.0.0:8080", "--state-dir", "/var/lib/tunneld"]
