package main
import (
 _ "github.com/golang-jwt/jwt/v5"
 _ "github.com/dgraph-io/ristretto/v2"
 _ "github.com/jackc/pgx/v5"
 _ "github.com/jackc/pgx/v5/pgxpool"
 _ "github.com/coreos/go-systemd/v22/daemon"
 _ "github.com/coreos/go-systemd/v22/activation"
 _ "github.com/prometheus/client_golang/prometheus"
 _ "github.com/prometheus/client_golang/prometheus/promhttp"
 _ "go.etcd.io/bbolt"
 _ "go.uber.org/goleak"
 _ "github.com/peterbourgon/ff/v3"
 _ "github.com/go-jose/go-jose/v4"
 _ "github.com/HdrHistogram/hdrhistogram-go"
)
func main(){}
