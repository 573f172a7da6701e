// Command containerd-stargz-grpc is the test rig's build of the stargz
// snapshotter as a containerd proxy plugin.
//
// Why this file exists: upstream keeps its commands in a separate Go module
// (github.com/containerd/stargz-snapshotter/cmd) that is never tagged, so the
// Go module proxy cannot serve it. The snapshotter itself (service, fs,
// snapshot packages) and the IPFS client live in tagged modules, so this
// small main wires those libraries together the way the upstream command
// does: a gRPC snapshots service on a unix socket, configured by a TOML file
// whose keys are upstream's (service.Config plus `ipfs`).
package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"

	snapshotsapi "github.com/containerd/containerd/api/services/snapshots/v1"
	"github.com/containerd/containerd/v2/contrib/snapshotservice"
	"github.com/containerd/log"
	stargzfs "github.com/containerd/stargz-snapshotter/fs"
	"github.com/containerd/stargz-snapshotter/fs/remote"
	"github.com/containerd/stargz-snapshotter/ipfs"
	ipfsclient "github.com/containerd/stargz-snapshotter/ipfs/client"
	"github.com/containerd/stargz-snapshotter/service"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/pelletier/go-toml/v2"
	"github.com/sirupsen/logrus"
	"google.golang.org/grpc"
)

// config mirrors the upstream command's config file: the service config
// (inlined, so `[blob]`, `[fuse]`, `[resolver]` ... keep their upstream names)
// plus the `ipfs` switch that registers the ipfs:// resolve handler.
type config struct {
	service.Config
	IPFS bool `toml:"ipfs"`
}

func main() {
	address := flag.String("address", "/run/containerd-stargz-grpc/containerd-stargz-grpc.sock", "address for the snapshotter's gRPC server")
	configPath := flag.String("config", "/etc/containerd-stargz-grpc/config.toml", "path to the configuration file")
	logLevel := flag.String("log-level", "info", "logging level [trace, debug, info, warn, error, fatal, panic]")
	rootDir := flag.String("root", "/var/lib/containerd-stargz-grpc", "path to the root directory for this snapshotter")
	flag.Parse()

	lvl, err := logrus.ParseLevel(*logLevel)
	if err != nil {
		fatal("bad --log-level", err)
	}
	logrus.SetLevel(lvl)
	logrus.SetFormatter(&logrus.JSONFormatter{TimestampFormat: log.RFC3339NanoFixed})
	ctx := log.WithLogger(context.Background(), log.L)

	var cfg config
	if *configPath != "" {
		b, err := os.ReadFile(*configPath)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			fatal("read config", err)
		}
		if err := toml.Unmarshal(b, &cfg); err != nil {
			fatal("parse config "+*configPath, err)
		}
	}

	var opts []service.Option
	if cfg.IPFS {
		// Layers whose descriptors carry ipfs:// URLs are read through kubo's
		// HTTP API (found via $IPFS_PATH/api, else ~/.ipfs/api).
		opts = append(opts, service.WithFilesystemOptions(stargzfs.WithResolveHandler("ipfs", ipfsHandler{})))
	}
	sn, err := service.NewStargzSnapshotterService(ctx, *rootDir, &cfg.Config, opts...)
	if err != nil {
		fatal("create snapshotter", err)
	}

	rpc := grpc.NewServer()
	snapshotsapi.RegisterSnapshotsServer(rpc, snapshotservice.FromSnapshotter(sn))
	if err := os.MkdirAll(filepath.Dir(*address), 0o700); err != nil {
		fatal("socket dir", err)
	}
	_ = os.Remove(*address) // a stale socket from a crash would make Listen fail
	l, err := net.Listen("unix", *address)
	if err != nil {
		fatal("listen", err)
	}
	go func() {
		if err := rpc.Serve(l); err != nil {
			log.G(ctx).WithError(err).Error("serve")
		}
	}()
	log.G(ctx).WithField("address", *address).WithField("ipfs", cfg.IPFS).Info("stargz snapshotter serving")

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	s := <-sig
	log.G(ctx).Infof("got %v, closing (unmounts the FUSE layers)", s)
	rpc.Stop()
	if err := sn.Close(); err != nil {
		log.G(ctx).WithError(err).Warn("close snapshotter")
	}
}

func fatal(what string, err error) {
	fmt.Fprintf(os.Stderr, "containerd-stargz-grpc: %s: %v\n", what, err)
	os.Exit(1)
}

// ipfsHandler resolves a layer descriptor whose urls hold ipfs://<CID> to a
// ranged reader over kubo's /api/v0/cat.
type ipfsHandler struct{}

func (ipfsHandler) Handle(ctx context.Context, desc ocispec.Descriptor) (remote.Fetcher, int64, error) {
	cid, err := ipfs.GetCID(desc)
	if err != nil {
		return nil, 0, err
	}
	api, err := ipfsclient.GetIPFSAPIAddress(os.Getenv("IPFS_PATH"), "http")
	if err != nil {
		return nil, 0, fmt.Errorf("locate kubo API: %w", err)
	}
	c := ipfsclient.New(api)
	st, err := c.StatCID(cid)
	if err != nil {
		return nil, 0, err
	}
	return &ipfsFetcher{c: c, cid: cid, size: int64(st.Size)}, int64(st.Size), nil
}

type ipfsFetcher struct {
	c    *ipfsclient.Client
	cid  string
	size int64
}

func (f *ipfsFetcher) Fetch(ctx context.Context, off int64, size int64) (io.ReadCloser, error) {
	if off > f.size {
		return nil, fmt.Errorf("offset %d beyond blob size %d", off, f.size)
	}
	o, n := int(off), int(size)
	return f.c.Get("/ipfs/"+f.cid, &o, &n)
}

func (f *ipfsFetcher) Check() error {
	_, err := f.c.StatCID(f.cid)
	return err
}

// GenID names a cached chunk; the cache uses it as a file name, so hash it.
func (f *ipfsFetcher) GenID(off int64, size int64) string {
	sum := sha256.Sum256([]byte(f.cid + "-" + strconv.FormatInt(off, 10) + "-" + strconv.FormatInt(size, 10)))
	return hex.EncodeToString(sum[:])
}
