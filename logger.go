package main

import (
	"os"

	"github.com/mattn/go-isatty"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"invoices/config"
)

// buildLogger returns JSON logs (for containers and collectors) or, on a
// terminal or when asked, human console logs.
func buildLogger(cfg config.Log, out *os.File) (*zap.Logger, error) {
	level, err := zapcore.ParseLevel(cfg.Level)
	if err != nil {
		return nil, err
	}
	console := cfg.Format == "console" || (cfg.Format == "auto" && isatty.IsTerminal(out.Fd()))
	var zc zap.Config
	if console {
		zc = zap.NewDevelopmentConfig()
	} else {
		zc = zap.NewProductionConfig()
		zc.EncoderConfig.TimeKey = "time"
		zc.EncoderConfig.EncodeTime = zapcore.RFC3339NanoTimeEncoder
	}
	zc.DisableStacktrace = true // stacks are attached explicitly where they help
	zc.Level = zap.NewAtomicLevelAt(level)
	zc.OutputPaths = []string{out.Name()}
	zc.ErrorOutputPaths = []string{out.Name()}
	return zc.Build()
}
