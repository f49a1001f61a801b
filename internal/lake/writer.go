package lake

import (
	"fmt"
	"io"
	"os"

	"github.com/parquet-go/parquet-go"

	"github.com/mercato-platform/mercato/internal/atomicfile"
)

// WriteFile writes rows as a zstd-compressed Parquet file at path,
// atomically (see atomicfile.Write).
func WriteFile[T any](path string, rows []T) error {
	return atomicfile.Write(path, func(f io.Writer) error {
		w := parquet.NewGenericWriter[T](f, parquet.Compression(&parquet.Zstd), parquet.MaxRowsPerRowGroup(1<<20))
		if _, err := w.Write(rows); err != nil {
			return err
		}
		return w.Close()
	})
}

// ReadFile reads a whole lake file: for tests, tools and the sink's id memory, not for reports.
func ReadFile[T any](path string) ([]T, error) {
	rows, err := parquet.ReadFile[T](path)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	return rows, nil
}

// RowCount reads a lake file's row count from its footer.
func RowCount(path string) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, fmt.Errorf("opening %s: %w", path, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return 0, fmt.Errorf("reading %s: %w", path, err)
	}
	pf, err := parquet.OpenFile(f, st.Size())
	if err != nil {
		return 0, fmt.Errorf("reading %s: %w", path, err)
	}
	return pf.NumRows(), nil
}
