// The DICOM plugin's reader: one DICOM Part 10 file through DCMTK (dcmdata, with the JPEG, JPEG-LS
// and RLE decoders) into stored values; the mapping to 0..255 is C (../dicom_map.c). C++ stays in
// here, and no exception leaves it: the entry point catches everything.
#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dcdict.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcistrmb.h>
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcpixel.h>
#include <dcmtk/dcmdata/dcpixseq.h>
#include <dcmtk/dcmdata/dcpxitem.h>
#include <dcmtk/dcmdata/dcrledrg.h>
#include <dcmtk/dcmdata/dcxfer.h>
#include <dcmtk/dcmjpeg/djdecode.h>
#include <dcmtk/dcmjpls/djdecode.h>
#include <dcmtk/oflog/oflog.h>

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <new>

#include "sinter/version.h"
#include "dicom_plugin.h"

namespace {

// DCMTK keeps its decoder list and its logger configuration in process-wide state, and
// registering a codec twice (or while another thread decodes) is not safe: do it once.
pthread_once_t codecs_once = PTHREAD_ONCE_INIT;

bool codecs_ok = false;

// Called by pthread_once (C): nothing may be thrown through it.
void register_codecs() {
  try {
    // DCMTK logs warnings to stderr by default; sinter reports through snt_err instead.
    OFLog::configure(OFLogger::OFF_LOG_LEVEL);
    DJDecoderRegistration::registerCodecs();
    DJLSDecoderRegistration::registerCodecs();
    DcmRLEDecoderRegistration::registerCodecs();
    codecs_ok = true;
  } catch (...) {
  }
}

// Deregisters the decoders at exit, before DCMTK's own statics go (this object is constructed
// after them, as the plugin loads after DCMTK, so it is destroyed first): their records would
// otherwise outlive DCMTK's list of them, as leaks.
struct CodecsAtExit {
  ~CodecsAtExit() {
    if (!codecs_ok) return;
    try {
      DcmRLEDecoderRegistration::cleanup();
      DJLSDecoderRegistration::cleanup();
      DJDecoderRegistration::cleanup();
    } catch (...) {
    }
  }
} codecs_at_exit;

// The encapsulated transfer syntaxes decoded here; any other one is refused by name.
bool xfer_supported(E_TransferSyntax x) {
  switch (x) {
    case EXS_LittleEndianImplicit:
    case EXS_LittleEndianExplicit:
    case EXS_BigEndianExplicit:
    case EXS_JPEGProcess1:
    case EXS_JPEGProcess2_4:
    case EXS_JPEGProcess14:
    case EXS_JPEGProcess14SV1:
    case EXS_JPEGLSLossless:
    case EXS_JPEGLSLossy:
    case EXS_RLELossless:
      return true;
    default:
      return false;
  }
}

const char *const xfer_list =
    "uncompressed, JPEG baseline/extended, JPEG lossless (process 14, SV1), JPEG-LS "
    "(lossless and near-lossless) and RLE";

// Reads the whole regular file: DCMTK parses from memory, so the file is never opened again by
// name. The size is capped from the pixel cap (4 bytes a pixel) plus room for the header.
snt_status slurp(const char *path, FILE *f, long long max_pixels, unsigned char **buf, size_t *len, snt_err *e) {
  struct stat sb;
  if (fstat(fileno(f), &sb) != 0) return snt_err_set(e, SNT_ERR_IO, "%s: cannot stat: %s", path, strerror(errno));
  long long cap = max_pixels * 4 + (64LL << 20);
  if (sb.st_size > cap)
    return snt_err_set(e, SNT_ERR_INPUT, "%s: DICOM file of %lld bytes, more than the %lld the pixel cap allows", path,
                       (long long)sb.st_size, cap);
  size_t n = (size_t)sb.st_size;
  *buf = (unsigned char *)malloc(n ? n : 1);
  if (!*buf) return snt_err_set(e, SNT_ERR_NOMEM, "%s: out of memory for a %zu-byte file", path, n);
  *len = fread(*buf, 1, n, f);
  if (*len != n && ferror(f)) return snt_err_set(e, SNT_ERR_IO, "%s: cannot read: %s", path, strerror(errno));
  return SNT_OK;
}

snt_status parse(const char *path, const unsigned char *buf, size_t len, DcmFileFormat &ff, snt_err *e) {
  if (!dcmDataDict.isDictionaryLoaded())
    return snt_err_set(e, SNT_ERR_IO, "%s: the DICOM data dictionary is not installed (%s, Debian package libdcmtk17)",
                       path, DCM_DICT_DEFAULT_PATH);
  DcmInputBufferStream is;
  is.setBuffer(buf, (offile_off_t)len);
  is.setEos();
  ff.transferInit();
  OFCondition c = ff.read(is, EXS_Unknown, EGL_noChange, DCM_MaxReadLength);
  ff.transferEnd();
  // DCMTK says "Invalid stream" (or waits for more data) when an element runs past the end.
  if (c == EC_StreamNotifyClient || (c == EC_InvalidStream && is.eos()))
    return snt_err_set(e, SNT_ERR_INPUT, "%s: truncated DICOM file (%zu bytes): it ends inside an element", path, len);
  if (c.bad()) return snt_err_set(e, SNT_ERR_INPUT, "%s: damaged DICOM file: %s", path, c.text());
  return SNT_OK;
}

// An unsigned 16-bit attribute that must be there.
snt_status need_u16(const char *path, DcmItem *d, const DcmTagKey &tag, const char *name, Uint16 *v, snt_err *e) {
  if (d->findAndGetUint16(tag, *v).bad())
    return snt_err_set(e, SNT_ERR_INPUT, "%s: DICOM file without %s (%04x,%04x)", path, name, tag.getGroup(),
                       tag.getElement());
  return SNT_OK;
}

// Samples, photometric interpretation and frames: only single-frame gray images.
snt_status check_kind(const char *path, DcmDataset *d, snt_image__dicom *out, snt_err *e) {
  Uint16 spp = 1;
  if (d->findAndGetUint16(DCM_SamplesPerPixel, spp).good() && spp != 1)
    return snt_err_set(e, SNT_ERR_INPUT, "%s: colour DICOM (%u samples per pixel) is not supported: only MONOCHROME1 and MONOCHROME2",
                       path, (unsigned)spp);
  OFString pi;
  if (d->findAndGetOFString(DCM_PhotometricInterpretation, pi).bad())
    return snt_err_set(e, SNT_ERR_INPUT, "%s: DICOM file without Photometric Interpretation (0028,0004)", path);
  if (pi != "MONOCHROME1" && pi != "MONOCHROME2")
    return snt_err_set(e, SNT_ERR_INPUT, "%s: photometric interpretation '%.64s' is not supported: only MONOCHROME1 and MONOCHROME2",
                       path, pi.c_str());
  out->monochrome1 = pi == "MONOCHROME1";
  Sint32 frames = 1;
  if (d->findAndGetSint32(DCM_NumberOfFrames, frames).good() && frames != 1)
    return snt_err_set(e, SNT_ERR_INPUT, "%s: multi-frame DICOM (%ld frames) is not supported: one frame per file",
                       path, (long)frames);
  return SNT_OK;
}

// Rows, Columns and the sample layout, checked before anything is decoded.
snt_status check_layout(const char *path, DcmDataset *d, long long max_pixels, Uint16 *alloc, Uint16 *high,
                        snt_image__dicom *out, snt_err *e) {
  Uint16 rows, cols, stored, rep;
  snt_status st;
  if ((st = need_u16(path, d, DCM_Rows, "Rows", &rows, e)) || (st = need_u16(path, d, DCM_Columns, "Columns", &cols, e)) ||
      (st = need_u16(path, d, DCM_BitsAllocated, "Bits Allocated", alloc, e)) ||
      (st = need_u16(path, d, DCM_BitsStored, "Bits Stored", &stored, e)) ||
      (st = need_u16(path, d, DCM_HighBit, "High Bit", high, e)) ||
      (st = need_u16(path, d, DCM_PixelRepresentation, "Pixel Representation", &rep, e)))
    return st;
  snt_image__want w = {1, max_pixels, {0, 0, 0}};
  if ((st = snt_image__check_header(path, cols, rows, &w, e))) return st;
  if (*alloc != 8 && *alloc != 16)
    return snt_err_set(e, SNT_ERR_INPUT, "%s: %u bits allocated per pixel is not supported: 8 or 16", path, (unsigned)*alloc);
  if (stored < 1 || stored > *alloc || *high < stored - 1 || *high >= *alloc)
    return snt_err_set(e, SNT_ERR_INPUT, "%s: inconsistent bits: %u allocated, %u stored, high bit %u", path,
                       (unsigned)*alloc, (unsigned)stored, (unsigned)*high);
  if (rep > 1) return snt_err_set(e, SNT_ERR_INPUT, "%s: Pixel Representation %u is neither 0 nor 1", path, (unsigned)rep);
  out->width = cols, out->height = rows, out->bits_stored = stored, out->is_signed = rep;
  return SNT_OK;
}

// Rescale Slope/Intercept (the modality LUT) and the first window; a Modality LUT Sequence is refused.
snt_status read_voi(const char *path, DcmDataset *d, snt_image__dicom *out, snt_err *e) {
  if (d->tagExists(DCM_ModalityLUTSequence))
    return snt_err_set(e, SNT_ERR_INPUT, "%s: a Modality LUT Sequence is not supported: only Rescale Slope/Intercept", path);
  // DCMTK zeroes the value of an absent attribute: the defaults are set after a failed lookup.
  if (d->findAndGetFloat64(DCM_RescaleSlope, out->slope).bad()) out->slope = 1;
  if (d->findAndGetFloat64(DCM_RescaleIntercept, out->intercept).bad()) out->intercept = 0;
  if (!(out->slope != 0 && out->slope - out->slope == 0) || out->intercept - out->intercept != 0)
    return snt_err_set(e, SNT_ERR_INPUT, "%s: Rescale Slope %g / Intercept %g: the slope must be finite and not 0", path,
                       out->slope, out->intercept);
  OFString fn;
  if (d->findAndGetOFString(DCM_VOILUTFunction, fn).good() && !fn.empty() && fn != "LINEAR") {
    if (fn == "LINEAR_EXACT") out->voi_fn = SNT_VOI_LINEAR_EXACT;
    else if (fn == "SIGMOID") out->voi_fn = SNT_VOI_SIGMOID;
    else return snt_err_set(e, SNT_ERR_INPUT, "%s: VOI LUT Function '%.64s' is not LINEAR, LINEAR_EXACT or SIGMOID", path, fn.c_str());
  }
  double c, w;
  if (d->findAndGetFloat64(DCM_WindowCenter, c, 0).good() && d->findAndGetFloat64(DCM_WindowWidth, w, 0).good()) {
    double wmin = out->voi_fn == SNT_VOI_LINEAR ? 1 : 0;
    if (!(w >= wmin && w - w == 0 && c - c == 0) || (w == 0 && out->voi_fn != SNT_VOI_LINEAR))
      return snt_err_set(e, SNT_ERR_INPUT, "%s: Window Center %g / Width %g: the width must be %s", path, c, w,
                         out->voi_fn == SNT_VOI_LINEAR ? "at least 1" : "above 0");
    out->window.set = 1, out->window.center = c, out->window.width = w;
  }
  return SNT_OK;
}

// The first item of the VOI LUT Sequence: descriptor (entries, first input value, bits) and data.
snt_status read_lut(const char *path, DcmDataset *d, snt_image__dicom *out, snt_err *e) {
  DcmItem *item = NULL;
  if (d->findAndGetSequenceItem(DCM_VOILUTSequence, item, 0).bad() || !item) return SNT_OK;
  Uint16 n, first, bits;
  const Uint16 *data = NULL;
  unsigned long count = 0;
  if (item->findAndGetUint16(DCM_LUTDescriptor, n, 0).bad() || item->findAndGetUint16(DCM_LUTDescriptor, first, 1).bad() ||
      item->findAndGetUint16(DCM_LUTDescriptor, bits, 2).bad() ||
      item->findAndGetUint16Array(DCM_LUTData, data, &count).bad() || !data)
    return snt_err_set(e, SNT_ERR_INPUT, "%s: the VOI LUT Sequence has no LUT Descriptor (3 values) or no LUT Data", path);
  long entries = n ? n : 65536;
  if (bits < 1 || bits > 16 || (long)count != entries)
    return snt_err_set(e, SNT_ERR_INPUT, "%s: VOI LUT of %lu values where its descriptor says %ld entries of %u bits (1 to 16)",
                       path, count, entries, (unsigned)bits);
  out->lut = (uint16_t *)malloc((size_t)entries * sizeof *out->lut);
  if (!out->lut) return snt_err_set(e, SNT_ERR_NOMEM, "%s: out of memory for the VOI LUT", path);
  uint16_t mask = (uint16_t)((1u << bits) - 1);
  for (long i = 0; i < entries; i++) out->lut[i] = data[i] & mask;
  // The first input value is signed when the pixels are (PS3.3 C.11.2.1.1).
  out->lut_first = out->is_signed ? (long)(Sint16)first : (long)first;
  out->lut_n = entries, out->lut_bits = bits;
  return SNT_OK;
}

// The JPEG syntaxes: the first fragment's headers, before DCMTK's own scan of them.
snt_status check_jpeg(const char *path, E_TransferSyntax x, DcmElement *el, snt_err *e) {
  if (x != EXS_JPEGProcess1 && x != EXS_JPEGProcess2_4 && x != EXS_JPEGProcess14 && x != EXS_JPEGProcess14SV1)
    return SNT_OK;
  DcmPixelSequence *seq = NULL;
  DcmPixelItem *item = NULL;
  Uint8 *frag = NULL;
  if (el->ident() != EVR_PixelData ||  // a (7fe0,0010) of another VR is some other class
      OFstatic_cast(DcmPixelData *, el)->getEncapsulatedRepresentation(x, NULL, seq).bad() || !seq ||
      seq->getItem(item, 1).bad() || !item || item->getUint8Array(frag).bad() || !frag)
    return snt_err_set(e, SNT_ERR_INPUT, "%s: JPEG pixel data without a fragment", path);
  return snt_image__dicom_jpeg_check(path, frag, item->getLength(), e);
}

// Decodes the pixel data to native little endian and extracts the stored values.
snt_status read_pixels(const char *path, DcmDataset *d, Uint16 alloc, Uint16 high, snt_image__dicom *out, snt_err *e) {
  E_TransferSyntax x = d->getOriginalXfer();
  DcmXfer xfer(x);
  if (!xfer_supported(x))
    return snt_err_set(e, SNT_ERR_INPUT, "%s: transfer syntax '%s' (%s) is not supported: %s", path, xfer.getXferName(),
                       xfer.getXferID(), xfer_list);
  DcmElement *el = NULL;
  if (d->findAndGetElement(DCM_PixelData, el).bad() || !el)
    return snt_err_set(e, SNT_ERR_INPUT, "%s: DICOM file without pixel data (7fe0,0010)", path);
  snt_status st = check_jpeg(path, x, el, e);
  if (st) return st;
  OFCondition c = d->chooseRepresentation(EXS_LittleEndianExplicit, NULL);
  if (c.bad()) return snt_err_set(e, SNT_ERR_INPUT, "%s: cannot decode the %s pixel data: %s", path, xfer.getXferName(), c.text());
  size_t plane = (size_t)out->width * (size_t)out->height, need = plane * (alloc / 8);
  if (el->getLength() < need)
    return snt_err_set(e, SNT_ERR_INPUT, "%s: truncated pixel data: %lu bytes where %dx%d pixels of %u bits need %zu", path,
                       (unsigned long)el->getLength(), out->width, out->height, (unsigned)alloc, need);
  out->values = (int32_t *)malloc(plane * sizeof *out->values);
  if (!out->values) return snt_err_set(e, SNT_ERR_NOMEM, "%s: out of memory for %zu pixels", path, plane);
  Uint8 *p8 = NULL;
  Uint16 *p16 = NULL;
  if ((alloc == 8 ? el->getUint8Array(p8) : el->getUint16Array(p16)).bad() || (alloc == 8 ? !p8 : !p16))
    return snt_err_set(e, SNT_ERR_INPUT, "%s: cannot read the pixel data", path);
  int bits = out->bits_stored, shift = high + 1 - bits;
  uint32_t mask = (1u << bits) - 1, sign = 1u << (bits - 1);
  for (size_t i = 0; i < plane; i++) {
    uint32_t v = ((alloc == 8 ? p8[i] : p16[i]) >> shift) & mask;
    out->values[i] = out->is_signed && (v & sign) ? (int32_t)v - (int32_t)(mask + 1) : (int32_t)v;
  }
  return SNT_OK;
}

// The file's bytes, freed also when DCMTK throws.
struct FileBytes {
  unsigned char *p = NULL;
  ~FileBytes() { free(p); }
};

snt_status read_all(const char *path, FILE *f, long long max_pixels, snt_image__dicom *out, snt_err *e) {
  FileBytes bytes;
  size_t len = 0;
  snt_status st = slurp(path, f, max_pixels, &bytes.p, &len, e);
  if (st) return st;
  const unsigned char *buf = bytes.p;
  DcmFileFormat ff;
  char uid[SNT_IMAGE__UID_SIZE];
  st = snt_image__dicom_walk(path, buf, len, uid, e);
  // DCMTK guesses the encoding of a data set whose transfer syntax it does not know; the walk
  // read it by the UID, so the two must agree: an unknown or missing UID is refused.
  if (!st && (!uid[0] || strspn(uid, "0123456789.") != strlen(uid) || DcmXfer(uid).getXfer() == EXS_Unknown))
    st = snt_err_set(e, SNT_ERR_INPUT, "%s: %s", path,
                     uid[0] ? "the transfer syntax UID (0002,0010) is not a valid one DCMTK knows"
                            : "DICOM file without a transfer syntax UID (0002,0010)");
  if (!st) st = parse(path, buf, len, ff, e);
  DcmDataset *d = ff.getDataset();
  Uint16 alloc = 0, high = 0;
  if (!st && !d) st = snt_err_set(e, SNT_ERR_INPUT, "%s: DICOM file without a data set", path);
  if (!st) st = check_kind(path, d, out, e);
  if (!st) st = check_layout(path, d, max_pixels, &alloc, &high, out, e);
  if (!st) st = read_voi(path, d, out, e);
  if (!st) st = read_lut(path, d, out, e);
  if (!st) st = read_pixels(path, d, alloc, high, out, e);
  return st;
}

// Read through the table below; the caller (../dicom_load.c) frees `out`, also after an error.
snt_status plugin_read(const char *path, FILE *f, long long max_pixels, snt_image__dicom *out, snt_err *e) {
  *out = snt_image__dicom();
  try {
    if (pthread_once(&codecs_once, register_codecs) != 0 || !codecs_ok)
      return snt_err_set(e, SNT_ERR_INTERNAL, "%s: cannot register the DICOM decoders", path);
    return read_all(path, f, max_pixels, out, e);
  } catch (const std::bad_alloc &) {
    return snt_err_set(e, SNT_ERR_NOMEM, "%s: out of memory while decoding the DICOM file", path);
  } catch (...) {
    return snt_err_set(e, SNT_ERR_INPUT, "%s: the DICOM decoder failed on this file", path);
  }
}

const snt_dicom_plugin plugin = {SINTER_VERSION, sizeof(snt_image__dicom), sizeof(snt_err), plugin_read};

}  // namespace

extern "C" __attribute__((visibility("default"))) const snt_dicom_plugin *snt_dicom_plugin_v1(void) { return &plugin; }
