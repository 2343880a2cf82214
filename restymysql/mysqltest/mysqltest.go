//go:build linux

// Package mysqltest starts a private MariaDB server for the tests of
// resty.mysql (its unit tests and the integration suite): a data
// directory of its own in a temp dir, a free TCP port on 127.0.0.1 and a
// unix socket, stopped when the test ends.
//
// When MariaDB is not installed the test is skipped, unless the
// environment sets RESTY_REQUIRE_MARIADB (CI does: .ci/run installs
// mariadb-server), where it fails.
package mysqltest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Server is a running MariaDB server.
type Server struct {
	// Port is its TCP port on 127.0.0.1; Socket its unix socket.
	Port   int
	Socket string
	// Dir holds the data directory, the socket, the log and the TLS files.
	Dir string
	// CertFile is the server's certificate (PEM) when started with TLS.
	CertFile string

	tb      testing.TB
	bin     string
	args    []string
	cmd     *exec.Cmd
	exited  chan struct{}
	client  string
	version string
}

// Options configure Start.
type Options struct {
	// TLS gives the server a self-signed certificate for 127.0.0.1 and
	// localhost.
	TLS bool
}

func find(names ...string) string {
	for _, n := range names {
		if p, err := exec.LookPath(n); err == nil {
			return p
		}
		for _, dir := range []string{"/usr/sbin", "/usr/bin", "/usr/local/sbin", "/usr/local/bin"} {
			p := filepath.Join(dir, n)
			if st, err := os.Stat(p); err == nil && !st.IsDir() {
				return p
			}
		}
	}
	return ""
}

// Start starts a server with the database ngx_test (utf8mb4) and the user
// ngx_test (password ngx_test) that may use every database, as
// lua-resty-mysql's test setup has them.
func Start(tb testing.TB, o Options) *Server {
	tb.Helper()
	bin := find("mariadbd", "mysqld")
	install := find("mariadb-install-db", "mysql_install_db")
	client := find("mariadb", "mysql")
	if bin == "" || install == "" || client == "" {
		msg := "MariaDB is not installed (mariadbd, mariadb-install-db and mariadb are needed): apt-get install -y mariadb-server"
		if os.Getenv("RESTY_REQUIRE_MARIADB") != "" {
			tb.Fatal(msg + " (RESTY_REQUIRE_MARIADB is set)")
		}
		tb.Skip(msg)
	}
	dir, err := os.MkdirTemp("", "mysqltest-")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { os.RemoveAll(dir) })
	s := &Server{tb: tb, bin: bin, client: client, Dir: dir, Socket: filepath.Join(dir, "mysqld.sock"), exited: make(chan struct{})}
	close(s.exited)
	data := filepath.Join(dir, "data")
	user := []string{}
	if os.Geteuid() == 0 {
		user = []string{"--user=root"}
	}
	args := append([]string{"--no-defaults", "--auth-root-authentication-method=normal", "--datadir=" + data, "--skip-test-db"}, user...)
	out, err := exec.Command(install, args...).CombinedOutput()
	if err != nil {
		tb.Fatalf("%s: %v\n%s", install, err, out)
	}
	s.Port = freePort(tb)
	s.args = append([]string{"--no-defaults", "--datadir=" + data, "--socket=" + s.Socket,
		"--port=" + strconv.Itoa(s.Port), "--bind-address=127.0.0.1",
		"--pid-file=" + filepath.Join(dir, "mysqld.pid"), "--log-error=" + filepath.Join(dir, "error.log"),
		"--innodb-buffer-pool-size=32M", "--max-connections=600", "--skip-name-resolve",
		"--innodb-flush-log-at-trx-commit=0", "--sync-binlog=0"}, user...)
	if o.TLS {
		s.CertFile = filepath.Join(dir, "server.crt")
		key := filepath.Join(dir, "server.key")
		writeCert(tb, s.CertFile, key)
		s.args = append(s.args, "--ssl-cert="+s.CertFile, "--ssl-key="+key)
	}
	s.Restart()
	tb.Cleanup(s.Stop)
	s.Exec("CREATE DATABASE ngx_test CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci",
		"CREATE USER 'ngx_test'@'%' IDENTIFIED BY 'ngx_test'",
		"CREATE USER 'ngx_test'@'localhost' IDENTIFIED BY 'ngx_test'",
		"GRANT ALL ON *.* TO 'ngx_test'@'%'",
		"GRANT ALL ON *.* TO 'ngx_test'@'localhost'")
	return s
}

func freePort(tb testing.TB) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Restart starts the server (again, after Kill or Stop) on the same port,
// socket and data, and waits until it serves.
func (s *Server) Restart() {
	s.tb.Helper()
	<-s.exited
	cmd := exec.Command(s.bin, s.args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		s.tb.Fatalf("starting %s: %v", s.bin, err)
	}
	s.cmd = cmd
	exited := make(chan struct{})
	s.exited = exited
	go func() { _ = cmd.Wait(); close(exited) }()
	deadline := time.Now().Add(60 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(s.Port)), time.Second)
		if err == nil {
			c.Close()
			if _, err := os.Stat(s.Socket); err == nil {
				return
			}
		}
		select {
		case <-exited:
			log, _ := os.ReadFile(filepath.Join(s.Dir, "error.log"))
			s.tb.Fatalf("mariadbd exited at start: %s\n%s", out.String(), tail(string(log), 3000))
		default:
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(s.Dir, "error.log"))
			s.tb.Fatalf("mariadbd did not serve within 60s\n%s", tail(string(log), 3000))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// Kill kills the server at once (SIGKILL), as a crash would.
func (s *Server) Kill() {
	if s.cmd != nil && s.cmd.Process != nil {
		_ = s.cmd.Process.Kill()
	}
	<-s.exited
}

// Stop shuts the server down (SIGTERM, SIGKILL after 10s).
func (s *Server) Stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(10 * time.Second):
		s.Kill()
	}
}

// Exec runs SQL statements as root through the mariadb client.
func (s *Server) Exec(stmts ...string) string {
	s.tb.Helper()
	cmd := exec.Command(s.client, "--no-defaults", "-uroot", "--socket="+s.Socket, "-N", "-B", "-e", strings.Join(stmts, ";\n"))
	out, err := cmd.CombinedOutput()
	if err != nil {
		s.tb.Fatalf("mariadb: %v\n%s", err, out)
	}
	return string(out)
}

// Version is the server's version string.
func (s *Server) Version() string {
	if s.version == "" {
		s.version = strings.TrimSpace(s.Exec("SELECT VERSION()"))
	}
	return s.version
}

// writeCert writes a self-signed certificate for 127.0.0.1 and localhost.
func writeCert(tb testing.TB, certFile, keyFile string) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: "localhost"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		tb.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		tb.Fatal(err)
	}
}

// String describes the server for test logs.
func (s *Server) String() string {
	return fmt.Sprintf("mariadb 127.0.0.1:%d %s", s.Port, s.Socket)
}
