// Command ctr-remote is the test rig's build of stargz-snapshotter's ctr-remote:
// containerd's own `ctr` (from the containerd/v2 module) with image
// subcommands for lazy pulling and IPFS.
//
// Why this file exists: upstream's ctr-remote lives in the untagged
// github.com/containerd/stargz-snapshotter/cmd module, which the Go module
// proxy cannot serve. Everything that decides the bytes on the wire is in
// tagged modules and is called as-is here:
//   - ipfs-push: ipfs.Push (IPFS-enabled conversion, blob adds, root CID),
//     optionally with nativeconverter/estargz as the layer converter;
//   - rpull: ipfs.NewResolver + containerd's client.Pull with unpack, and
//     fs/source's label wrapper that tells the snapshotter where layers live;
//   - convert --estargz: containerd's converter with the eStargz layer converter.
//
// The flag names and defaults follow upstream's commands, so tests written
// against this binary hold for the released ctr-remote.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"

	containerd "github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/cmd/ctr/app"
	"github.com/containerd/containerd/v2/cmd/ctr/commands"
	ctrcontent "github.com/containerd/containerd/v2/cmd/ctr/commands/content"
	"github.com/containerd/containerd/v2/core/images"
	"github.com/containerd/containerd/v2/core/images/converter"
	"github.com/containerd/containerd/v2/core/snapshots"
	ctdsnapshotters "github.com/containerd/containerd/v2/pkg/snapshotters"
	"github.com/containerd/log"
	"github.com/containerd/platforms"
	"github.com/containerd/stargz-snapshotter/estargz"
	fsconfig "github.com/containerd/stargz-snapshotter/fs/config"
	"github.com/containerd/stargz-snapshotter/fs/source"
	"github.com/containerd/stargz-snapshotter/ipfs"
	estargzconvert "github.com/containerd/stargz-snapshotter/nativeconverter/estargz"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/urfave/cli/v3"
)

// prefetchSize is what upstream's rpull asks the snapshotter to prefetch.
const prefetchSize = 10 * 1024 * 1024

func main() {
	root := app.New()
	root.Name = "ctr-remote"
	extra := []*cli.Command{rpullCommand(), ipfsPushCommand(), convertCommand()}
	for _, c := range root.Commands {
		if c.Name != "images" {
			continue
		}
		// Replace same-named subcommands (convert), append the rest.
		for _, e := range extra {
			replaced := false
			for i, sc := range c.Commands {
				if sc.Name == e.Name {
					c.Commands[i] = e
					replaced = true
				}
			}
			if !replaced {
				c.Commands = append(c.Commands, e)
			}
		}
	}
	if err := root.Run(context.Background(), os.Args); err != nil {
		fmt.Fprintf(os.Stderr, "ctr-remote: %v\n", err)
		os.Exit(1)
	}
}

// platformMatcher turns --platform / --all-platforms into a matcher; the
// default is the host platform only, strictly (no variant fallback).
func platformMatcher(cmd *cli.Command) (platforms.MatchComparer, error) {
	if cmd.Bool("all-platforms") {
		return platforms.All, nil
	}
	pss := cmd.StringSlice("platform")
	if len(pss) == 0 {
		return platforms.DefaultStrict(), nil
	}
	var ps []ocispec.Platform
	for _, s := range pss {
		p, err := platforms.Parse(s)
		if err != nil {
			return nil, fmt.Errorf("invalid platform %q: %w", s, err)
		}
		ps = append(ps, p)
	}
	return platforms.Ordered(ps...), nil
}

func platformFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringSliceFlag{Name: "platform", Usage: "content for a specific platform (repeatable)"},
		&cli.BoolFlag{Name: "all-platforms", Usage: "content for all platforms"},
	}
}

func ipfsPushCommand() *cli.Command {
	return &cli.Command{
		Name:      "ipfs-push",
		Usage:     "push an image to IPFS (kubo found through $IPFS_PATH/api, else ~/.ipfs/api)",
		ArgsUsage: "[flags] <image_ref>",
		Flags: append(platformFlags(),
			&cli.BoolFlag{Name: "estargz", Value: true, Usage: "convert the layers to eStargz"},
		),
		Action: func(ctx context.Context, cmd *cli.Command) error {
			ref := cmd.Args().First()
			if ref == "" {
				return errors.New("image need to be specified")
			}
			mc, err := platformMatcher(cmd)
			if err != nil {
				return err
			}
			client, ctx, cancel, err := commands.NewClient(ctx, cmd)
			if err != nil {
				return err
			}
			defer cancel()
			var layerConvert converter.ConvertFunc
			if cmd.Bool("estargz") {
				layerConvert = estargzconvert.LayerConvertFunc()
			}
			cid, err := ipfs.Push(ctx, client, ref, layerConvert, mc)
			if err != nil {
				return err
			}
			log.L.WithField("CID", cid).Info("Pushed")
			fmt.Println(cid)
			return nil
		},
	}
}

func rpullCommand() *cli.Command {
	flags := append([]cli.Flag{}, commands.RegistryFlags...)
	flags = append(flags, commands.LabelFlag,
		&cli.BoolFlag{Name: "skip-content-verify", Usage: "skip content verification for layers of this image"},
		&cli.BoolFlag{Name: "ipfs", Usage: "pull from IPFS: the reference is the CID printed by ipfs-push"},
		&cli.BoolFlag{Name: "use-containerd-labels", Usage: "use containerd's snapshot labels too"},
	)
	flags = append(flags, commands.SnapshotterFlags...)
	return &cli.Command{
		Name:      "rpull",
		Usage:     "pull an image leveraging the stargz snapshotter",
		ArgsUsage: "[flags] <ref>",
		Flags:     flags,
		Action: func(ctx context.Context, cmd *cli.Command) error {
			ref := cmd.Args().First()
			if ref == "" {
				return errors.New("please provide an image reference to pull")
			}
			client, ctx, cancel, err := commands.NewClient(ctx, cmd)
			if err != nil {
				return err
			}
			defer cancel()
			ctx, done, err := client.WithLease(ctx)
			if err != nil {
				return err
			}
			defer done(ctx)

			fc, err := ctrcontent.NewFetchConfig(ctx, cmd)
			if err != nil {
				return err
			}
			if cmd.Bool("ipfs") {
				r, err := ipfs.NewResolver(ipfs.ResolverOptions{Scheme: "ipfs"})
				if err != nil {
					return err
				}
				fc.Resolver = r
			}
			snapshotter := "stargz"
			if s := cmd.String("snapshotter"); s != "" {
				snapshotter = s
			}
			var snOpts []snapshots.Opt
			if cmd.Bool("skip-content-verify") {
				snOpts = append(snOpts, snapshots.WithLabels(map[string]string{fsconfig.TargetSkipVerifyLabel: "true"}))
			}
			labelHandler := source.AppendDefaultLabelsHandlerWrapper(ref, prefetchSize)
			if cmd.Bool("use-containerd-labels") {
				labelHandler = source.AppendExtraLabelsHandler(prefetchSize, ctdsnapshotters.AppendInfoHandlerWrapper(ref))
			}
			progress := images.HandlerFunc(func(ctx context.Context, desc ocispec.Descriptor) ([]ocispec.Descriptor, error) {
				fmt.Printf("fetching %v... %v\n", desc.Digest.String()[:15], desc.MediaType)
				return nil, nil
			})
			_, err = client.Pull(ctx, ref,
				containerd.WithPullLabels(commands.LabelArgs(fc.Labels)),
				containerd.WithResolver(fc.Resolver),
				containerd.WithImageHandler(progress),
				containerd.WithPullUnpack,
				containerd.WithPullSnapshotter(snapshotter, snOpts...),
				containerd.WithImageHandlerWrapper(labelHandler),
			)
			return err
		},
	}
}

func convertCommand() *cli.Command {
	return &cli.Command{
		Name:      "convert",
		Usage:     "convert an image (eStargz layers and/or Docker to OCI media types)",
		ArgsUsage: "[flags] <source_ref> <target_ref>",
		Flags: append(platformFlags(),
			&cli.BoolFlag{Name: "estargz", Usage: "convert the layers to eStargz"},
			&cli.IntFlag{Name: "estargz-compression-level", Value: 9, Usage: "gzip level of eStargz layers"},
			&cli.IntFlag{Name: "estargz-chunk-size", Value: 0, Usage: "eStargz chunk size (0: library default)"},
			&cli.IntFlag{Name: "estargz-min-chunk-size", Value: 0, Usage: "smallest payload that starts its own gzip member (0: every file)"},
			&cli.StringFlag{Name: "estargz-record-in", Usage: "prioritized files: a record file as `ctr-remote optimize --record-out` writes"},
			&cli.BoolFlag{Name: "oci", Usage: "convert Docker media types to OCI ones"},
		),
		Action: func(ctx context.Context, cmd *cli.Command) error {
			src, dst := cmd.Args().Get(0), cmd.Args().Get(1)
			if src == "" || dst == "" {
				return errors.New("src and target image need to be specified")
			}
			mc, err := platformMatcher(cmd)
			if err != nil {
				return err
			}
			opts := []converter.Opt{converter.WithPlatform(mc)}
			if cmd.Bool("estargz") {
				eopts := []estargz.Option{estargz.WithCompressionLevel(int(cmd.Int("estargz-compression-level")))}
				if n := cmd.Int("estargz-chunk-size"); n > 0 {
					eopts = append(eopts, estargz.WithChunkSize(int(n)))
				}
				if n := cmd.Int("estargz-min-chunk-size"); n > 0 {
					eopts = append(eopts, estargz.WithMinChunkSize(int(n)))
				}
				if file := cmd.String("estargz-record-in"); file != "" {
					paths, err := recordedPaths(file)
					if err != nil {
						return err
					}
					// As upstream: every layer gets the whole list, and a path a layer lacks is no error.
					var missing []string
					eopts = append(eopts, estargz.WithPrioritizedFiles(paths), estargz.WithAllowPrioritizeNotFound(&missing))
				}
				opts = append(opts, converter.WithLayerConvertFunc(estargzconvert.LayerConvertFunc(eopts...)))
			}
			if cmd.Bool("oci") {
				opts = append(opts, converter.WithDockerToOCI(true))
			}
			client, ctx, cancel, err := commands.NewClient(ctx, cmd)
			if err != nil {
				return err
			}
			defer cancel()
			img, err := converter.Convert(ctx, client, dst, src, opts...)
			if err != nil {
				return err
			}
			fmt.Println(img.Target.Digest.String())
			return nil
		},
	}
}

// recordedPaths reads a record file (a stream of JSON objects with a "path", as
// upstream's optimize writes) into its paths, first occurrence kept, as
// upstream's convert does.
func recordedPaths(file string) ([]string, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	dec := json.NewDecoder(f)
	seen := map[string]bool{}
	var paths []string
	for dec.More() {
		var e struct {
			Path string `json:"path"`
		}
		if err := dec.Decode(&e); err != nil {
			return nil, fmt.Errorf("record file %s: %w", file, err)
		}
		if !seen[e.Path] {
			seen[e.Path] = true
			paths = append(paths, e.Path)
		}
	}
	return paths, nil
}
