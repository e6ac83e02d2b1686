#!/usr/bin/env bash
# Regenerates the .pb.go files from the .proto files. The generated files are
# committed, so building and testing the example needs none of this.
#
# Needs protoc (Debian: apt-get install protobuf-compiler) and the plugins:
#   go install google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12
#   go install google.golang.org/grpc/cmd/protoc-gen-go-grpc@v1.6.2
set -euo pipefail
cd "$(dirname "$0")"
protoc --proto_path=. \
  --go_out=paths=source_relative:. \
  --go-grpc_out=paths=source_relative:. \
  api/router/v1/router.proto
protoc --proto_path=. --go_out=paths=source_relative:. internal/conf/conf.proto
