package httpapi

import (
	"context"
	"net/http"
	"os"

	swaggerFiles "github.com/swaggo/files/v2"
	"golang.org/x/net/webdav"
)

// swaggerAssets serves Swagger UI's files to gin-swagger from swaggo/files/v2,
// which embeds them: they stay in the binary and are read when served.
// swaggo/files v1 copied every one into an in-memory file system at start-up,
// 7 MiB of heap and 17 MiB of resident memory in a process that may never
// serve /api. gin-swagger takes a *webdav.Handler, so this adapts the
// embedded files to a read-only webdav.FileSystem.
func swaggerAssets() *webdav.Handler {
	return &webdav.Handler{FileSystem: readOnlyFS{http.FS(swaggerFiles.FS)}, LockSystem: webdav.NewMemLS()}
}

// readOnlyFS is a webdav.FileSystem over an http.FileSystem that refuses
// every change.
type readOnlyFS struct{ fs http.FileSystem }

func (readOnlyFS) Mkdir(context.Context, string, os.FileMode) error { return os.ErrPermission }
func (readOnlyFS) RemoveAll(context.Context, string) error          { return os.ErrPermission }
func (readOnlyFS) Rename(context.Context, string, string) error     { return os.ErrPermission }

func (r readOnlyFS) OpenFile(_ context.Context, name string, flag int, _ os.FileMode) (webdav.File, error) {
	if flag&(os.O_WRONLY|os.O_RDWR|os.O_CREATE|os.O_TRUNC|os.O_APPEND) != 0 {
		return nil, os.ErrPermission
	}
	f, err := r.fs.Open(name)
	if err != nil {
		return nil, err
	}
	return readOnlyFile{f}, nil
}

func (r readOnlyFS) Stat(ctx context.Context, name string) (os.FileInfo, error) {
	f, err := r.OpenFile(ctx, name, os.O_RDONLY, 0)
	if err != nil {
		return nil, err
	}
	defer func() { _ = f.Close() }()
	return f.Stat()
}

// readOnlyFile is an http.File that refuses writes, as webdav.File needs.
type readOnlyFile struct{ http.File }

func (readOnlyFile) Write([]byte) (int, error) { return 0, os.ErrPermission }
