# Builds the Iris filter (.wasm) and the iris command. Used by docker-compose.yml.
FROM rust:1.95-bookworm AS build
RUN rustup target add wasm32-wasip1
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src ./src
RUN cargo build --release --target wasm32-wasip1 \
 && cargo build --release --features cli --bin iris

FROM debian:bookworm-slim
COPY --from=build /src/target/release/iris /usr/local/bin/iris
COPY --from=build /src/target/wasm32-wasip1/release/iris.wasm /usr/local/share/iris/iris.wasm
COPY envoy /etc/iris
ENTRYPOINT ["iris"]
