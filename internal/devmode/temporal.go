package devmode

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"time"

	uiserver "github.com/temporalio/ui-server/v2/server"
	uiconfig "github.com/temporalio/ui-server/v2/server/config"
	uioptions "github.com/temporalio/ui-server/v2/server/server_options"
	"go.temporal.io/server/common/cluster"
	"go.temporal.io/server/common/config"
	"go.temporal.io/server/common/dynamicconfig"
	"go.temporal.io/server/common/log"
	"go.temporal.io/server/common/metrics"
	persistencesql "go.temporal.io/server/common/persistence/sql"
	"go.temporal.io/server/common/persistence/sql/sqlplugin"
	sqliteplugin "go.temporal.io/server/common/persistence/sql/sqlplugin/sqlite"
	"go.temporal.io/server/common/primitives"
	"go.temporal.io/server/common/resolver"
	sqliteschema "go.temporal.io/server/schema/sqlite"
	"go.temporal.io/server/temporal"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/crowdflow/crowdflow/internal/pglocal"
)

// The cluster's name is stored in its database: it never changes.
const clusterName = "crowdflow-dev"

// retention is how long closed runs stay visible in Temporal Web.
const retention = 7 * 24 * time.Hour

// temporalOptions say how the embedded Temporal server runs.
type temporalOptions struct {
	// DBFile is the SQLite file of the server's state; created when
	// missing, kept otherwise.
	DBFile    string
	Port      int // the frontend's gRPC port, on 127.0.0.1
	UIPort    int // Temporal Web, on 127.0.0.1
	Namespace string
	Logger    *slog.Logger
	// LogLevel is the lowest level of the server's own messages that is
	// logged: they are many, and of interest only when it misbehaves.
	LogLevel slog.Level
}

// devTemporal is a Temporal server (frontend, history, matching and
// worker services in this process, on SQLite) and its Web UI.
type devTemporal struct {
	Address string // host:port of the frontend
	UIURL   string

	server temporal.Server
	log    serverLogger
	ui     *uiserver.Server
	uiDone chan struct{}
}

// DynamicConfig are the server's settings that differ from the defaults.
// The end-to-end tests and benchmarks run their server with them too, so
// they measure what a developer's server does.
func DynamicConfig() dynamicconfig.StaticClient {
	return dynamicconfig.StaticClient{
		// The history service moves at most 20 tasks a second from each
		// of its queues by default: one workflow could not run more than
		// about 20 activities a second. A laptop does far more.
		dynamicconfig.TransferProcessorMaxPollRPS.Key():   1000,
		dynamicconfig.TimerProcessorMaxPollRPS.Key():      1000,
		dynamicconfig.VisibilityProcessorMaxPollRPS.Key(): 1000,
		// Search attributes registered at start are usable at once,
		// without waiting for the server's cache to refresh.
		dynamicconfig.ForceSearchAttributesCacheRefreshOnRead.Key(): true,
	}
}

// startTemporal starts the server, creating its database and the namespace
// when they are missing, then its Web UI. The server is ready for clients
// when it returns.
func startTemporal(ctx context.Context, o temporalOptions) (*devTemporal, error) {
	sqlCfg := &config.SQL{
		PluginName:   sqliteplugin.PluginName,
		DatabaseName: o.DBFile,
		ConnectAttributes: map[string]string{
			"mode":         "rwc",
			"journal_mode": "wal",
			"synchronous":  "normal",
			"busy_timeout": "10000",
		},
	}
	if _, err := os.Stat(o.DBFile); errors.Is(err, fs.ErrNotExist) {
		if err := sqliteschema.SetupSchema(sqlCfg); err != nil {
			_ = os.Remove(o.DBFile)
			return nil, fmt.Errorf("create the Temporal database %s: %w", o.DBFile, err)
		}
	} else if err != nil {
		return nil, err
	}
	ns, err := sqliteschema.NewNamespaceConfig(clusterName, o.Namespace, false, nil)
	if err != nil {
		return nil, err
	}
	ns.Detail.Config.Retention = durationpb.New(retention)
	// A no-op when the namespace exists.
	if err := sqliteschema.CreateNamespaces(sqlCfg, ns); err != nil {
		return nil, fmt.Errorf("register namespace %s: %w", o.Namespace, err)
	}

	if err := forgetMembers(ctx, sqlCfg); err != nil {
		return nil, err
	}
	cfg, err := serverConfig(sqlCfg, o.Port)
	if err != nil {
		return nil, err
	}
	logger := newServerLogger(o.Logger.With("component", "temporal"), o.LogLevel)
	srv, err := temporal.NewServer(
		temporal.WithConfig(cfg),
		temporal.ForServices(temporal.DefaultServices),
		temporal.WithLogger(logger),
		temporal.WithDynamicConfigClient(DynamicConfig()),
	)
	if err != nil {
		return nil, fmt.Errorf("set up the Temporal server: %w", err)
	}
	if err := srv.Start(); err != nil {
		return nil, fmt.Errorf("start the Temporal server: %w", err)
	}
	t := &devTemporal{Address: cfg.PublicClient.HostPort, server: srv, log: logger}
	if err := t.startUI(o); err != nil {
		t.Stop()
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		t.Stop()
		return nil, err
	}
	return t, nil
}

// forgetMembers empties the cluster's membership table. The services of
// the last start (on other ports, and gone) are still listed there for a
// while; a service that tries to join them first waits 30 s for nothing.
// This process is the cluster's only node: nobody else is a member.
func forgetMembers(ctx context.Context, sqlCfg *config.SQL) error {
	db, err := persistencesql.NewSQLDB(sqlplugin.DbKindMain, sqlCfg, resolver.NewNoopResolver(), log.NewNoopLogger(), metrics.NoopMetricsHandler)
	if err != nil {
		return fmt.Errorf("open the Temporal database: %w", err)
	}
	defer db.Close()
	if _, err := db.PruneClusterMembership(ctx, &sqlplugin.PruneClusterMembershipFilter{
		PruneRecordsBefore: time.Now().AddDate(100, 0, 0),
	}); err != nil {
		return fmt.Errorf("reset the Temporal cluster's membership: %w", err)
	}
	return nil
}

// serverConfig is a one-node cluster on 127.0.0.1: the frontend on the
// given port, the other services on free ports.
func serverConfig(sqlCfg *config.SQL, frontendPort int) (*config.Config, error) {
	const host = "127.0.0.1"
	frontend := net.JoinHostPort(host, strconv.Itoa(frontendPort))
	services := map[string]config.Service{}
	for _, name := range []primitives.ServiceName{
		primitives.FrontendService, primitives.HistoryService, primitives.MatchingService, primitives.WorkerService,
	} {
		grpcPort := frontendPort
		if name != primitives.FrontendService {
			p, err := pglocal.FreePort()
			if err != nil {
				return nil, err
			}
			grpcPort = p
		}
		membership, err := pglocal.FreePort()
		if err != nil {
			return nil, err
		}
		services[string(name)] = config.Service{RPC: config.RPC{GRPCPort: grpcPort, MembershipPort: membership, BindOnIP: host}}
	}
	return &config.Config{
		Global: config.Global{
			Membership: config.Membership{MaxJoinDuration: 30 * time.Second, BroadcastAddress: host},
		},
		Persistence: config.Persistence{
			DefaultStore:    sqliteplugin.PluginName,
			VisibilityStore: sqliteplugin.PluginName,
			// Stored with the data: changing it needs a new database.
			NumHistoryShards: 1,
			DataStores:       map[string]config.DataStore{sqliteplugin.PluginName: {SQL: sqlCfg}},
		},
		ClusterMetadata: &cluster.Config{
			FailoverVersionIncrement: 10,
			MasterClusterName:        clusterName,
			CurrentClusterName:       clusterName,
			ClusterInformation: map[string]cluster.ClusterInformation{
				clusterName: {Enabled: true, InitialFailoverVersion: 1, RPCAddress: frontend},
			},
		},
		DCRedirectionPolicy: config.DCRedirectionPolicy{Policy: "noop"},
		Services:            services,
		Archival: config.Archival{
			History:    config.HistoryArchival{State: "disabled"},
			Visibility: config.VisibilityArchival{State: "disabled"},
		},
		NamespaceDefaults: config.NamespaceDefaults{Archival: config.ArchivalNamespaceDefaults{
			History:    config.HistoryArchivalNamespaceDefaults{State: "disabled"},
			Visibility: config.VisibilityArchivalNamespaceDefaults{State: "disabled"},
		}},
		// The server's own system workflows reach the frontend here.
		PublicClient: config.PublicClient{HostPort: frontend},
	}, nil
}

// startUI serves Temporal Web, which talks to the frontend over gRPC.
func (t *devTemporal) startUI(o temporalOptions) error {
	cfg := &uiconfig.Config{
		Host:                "127.0.0.1",
		Port:                o.UIPort,
		TemporalGRPCAddress: t.Address,
		EnableUI:            true,
		DefaultNamespace:    o.Namespace,
		// Plain HTTP on loopback: the CSRF cookie must not be Secure.
		CORS:             uiconfig.CORS{CookieInsecure: true},
		HideLogs:         true,
		DisableNewsFetch: true,
	}
	t.ui = uiserver.NewServer(uioptions.WithConfigProvider(staticUIConfig{cfg}))
	t.UIURL = fmt.Sprintf("http://127.0.0.1:%d", o.UIPort)
	t.uiDone = make(chan struct{})
	go func() {
		defer close(t.uiDone)
		// It returns when Stop closes it.
		_ = t.ui.Start()
	}()
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(t.UIURL + "/healthz")
		if err == nil {
			resp.Body.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("temporal Web did not answer on %s: %w", t.UIURL, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Stop stops the Web UI, then the server.
func (t *devTemporal) Stop() error {
	if t.ui != nil {
		t.ui.Stop()
		<-t.uiDone
	}
	t.log.silence()
	return t.server.Stop()
}

type staticUIConfig struct{ cfg *uiconfig.Config }

func (s staticUIConfig) GetConfig() (*uiconfig.Config, error) { return s.cfg, nil }

// checkPortFree fails early, with the flag to change, when a port is taken:
// a Temporal server or a UI that cannot listen would end the process.
// (A port taken between the check and the listen still does.)
func checkPortFree(port int, what string) error {
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return fmt.Errorf("port %d for %s is taken (another dev worker or Temporal dev server running?): %w", port, what, err)
	}
	return l.Close()
}
