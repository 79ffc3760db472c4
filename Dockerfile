# Builds the worker and the starter (which also serves the API). The dev
# mode, which links a whole Temporal server, is left out with -tags nodev.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -tags nodev -trimpath -o /out/worker ./worker \
 && CGO_ENABLED=0 go build -tags nodev -trimpath -o /out/starter ./starter

FROM alpine:3.20
RUN apk add --no-cache ca-certificates && adduser -D -H crowdflow
COPY --from=build /out/worker /out/starter /usr/local/bin/
USER crowdflow
ENTRYPOINT []
CMD ["worker"]
