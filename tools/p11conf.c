/*
 * p11conf - configure and inspect any PKCS#11 token (library info, slots, tokens, mechanisms,
 * token and PIN initialisation, objects).  The interface is the one of the LS11CLOUD article:
 *
 *   p11conf [-hitsmIupPredf] -A APIpath [-c slotID -U userPin -S SOPin -n newPin -L label]
 *
 * and, with long options that leave those letters alone, GOST keys and their certificates:
 * --generate-key, --request (PKCS#10 signed on the token), --import-cert, --import-p12.  The
 * file formats are core's (core/x509.h); the module is still any module.
 *
 * The module at APIpath is loaded with dlopen() and driven only through C_GetFunctionList, so
 * the output has the same shape whatever the module.  Exit codes: 0 success, 1 a PKCS#11 call
 * failed (or the module could not be loaded), 2 a usage error (bad options, a missing PIN with
 * no terminal to ask on).
 *
 * Copyright (C) 2026 LS11CLOUD developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <ctype.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <termios.h>
#include <unistd.h>

#include "crypto.h"
#include "p11conf.h"
#include "x509.h"

enum { EXIT_P11 = 1, EXIT_USAGE = 2 };

struct p11conf {
	const char *prog;
	const char *api_path;
	bool have_slot;
	CK_SLOT_ID slot;
	char *user_pin;
	char *so_pin;
	char *new_pin;
	const char *label;
	void *dl;
	CK_FUNCTION_LIST_PTR f;
	bool initialized;
};

static const struct p11conf_name no_flags[] = {
	{ 0, NULL },
};

static const struct p11conf_name slot_flags[] = {
	{ CKF_TOKEN_PRESENT, "CKF_TOKEN_PRESENT" },
	{ CKF_REMOVABLE_DEVICE, "CKF_REMOVABLE_DEVICE" },
	{ CKF_HW_SLOT, "CKF_HW_SLOT" },
	{ 0, NULL },
};

static const struct p11conf_name token_flags[] = {
	{ CKF_RNG, "CKF_RNG" },
	{ CKF_WRITE_PROTECTED, "CKF_WRITE_PROTECTED" },
	{ CKF_LOGIN_REQUIRED, "CKF_LOGIN_REQUIRED" },
	{ CKF_USER_PIN_INITIALIZED, "CKF_USER_PIN_INITIALIZED" },
	{ CKF_RESTORE_KEY_NOT_NEEDED, "CKF_RESTORE_KEY_NOT_NEEDED" },
	{ CKF_CLOCK_ON_TOKEN, "CKF_CLOCK_ON_TOKEN" },
	{ CKF_PROTECTED_AUTHENTICATION_PATH, "CKF_PROTECTED_AUTHENTICATION_PATH" },
	{ CKF_DUAL_CRYPTO_OPERATIONS, "CKF_DUAL_CRYPTO_OPERATIONS" },
	{ CKF_TOKEN_INITIALIZED, "CKF_TOKEN_INITIALIZED" },
	{ CKF_SECONDARY_AUTHENTICATION, "CKF_SECONDARY_AUTHENTICATION" },
	{ CKF_USER_PIN_COUNT_LOW, "CKF_USER_PIN_COUNT_LOW" },
	{ CKF_USER_PIN_FINAL_TRY, "CKF_USER_PIN_FINAL_TRY" },
	{ CKF_USER_PIN_LOCKED, "CKF_USER_PIN_LOCKED" },
	{ CKF_USER_PIN_TO_BE_CHANGED, "CKF_USER_PIN_TO_BE_CHANGED" },
	{ CKF_SO_PIN_COUNT_LOW, "CKF_SO_PIN_COUNT_LOW" },
	{ CKF_SO_PIN_FINAL_TRY, "CKF_SO_PIN_FINAL_TRY" },
	{ CKF_SO_PIN_LOCKED, "CKF_SO_PIN_LOCKED" },
	{ CKF_SO_PIN_TO_BE_CHANGED, "CKF_SO_PIN_TO_BE_CHANGED" },
	{ 0x01000000UL, "CKF_ERROR_STATE" }, /* v3.0 */
	{ 0, NULL },
};

static const struct p11conf_name mech_flags[] = {
	{ CKF_HW, "CKF_HW" },
	{ CKF_MESSAGE_ENCRYPT, "CKF_MESSAGE_ENCRYPT" },
	{ CKF_MESSAGE_DECRYPT, "CKF_MESSAGE_DECRYPT" },
	{ CKF_MESSAGE_SIGN, "CKF_MESSAGE_SIGN" },
	{ CKF_MESSAGE_VERIFY, "CKF_MESSAGE_VERIFY" },
	{ CKF_MULTI_MESSAGE, "CKF_MULTI_MESSAGE" },
	{ CKF_FIND_OBJECTS, "CKF_FIND_OBJECTS" },
	{ CKF_ENCRYPT, "CKF_ENCRYPT" },
	{ CKF_DECRYPT, "CKF_DECRYPT" },
	{ CKF_DIGEST, "CKF_DIGEST" },
	{ CKF_SIGN, "CKF_SIGN" },
	{ CKF_SIGN_RECOVER, "CKF_SIGN_RECOVER" },
	{ CKF_VERIFY, "CKF_VERIFY" },
	{ CKF_VERIFY_RECOVER, "CKF_VERIFY_RECOVER" },
	{ CKF_GENERATE, "CKF_GENERATE" },
	{ CKF_GENERATE_KEY_PAIR, "CKF_GENERATE_KEY_PAIR" },
	{ CKF_WRAP, "CKF_WRAP" },
	{ CKF_UNWRAP, "CKF_UNWRAP" },
	{ CKF_DERIVE, "CKF_DERIVE" },
	{ CKF_EC_F_P, "CKF_EC_F_P" },
	{ 0x00200000UL, "CKF_EC_F_2M" },
	{ 0x00400000UL, "CKF_EC_ECPARAMETERS" },
	{ CKF_EC_NAMEDCURVE, "CKF_EC_NAMEDCURVE" },
	{ CKF_EC_UNCOMPRESS, "CKF_EC_UNCOMPRESS" },
	{ CKF_EC_COMPRESS, "CKF_EC_COMPRESS" },
	{ CKF_EXTENSION, "CKF_EXTENSION" },
	{ 0, NULL },
};

static const char *name_of(const struct p11conf_name *table, CK_ULONG value)
{
	for (; table->name != NULL; table++)
		if (table->value == value)
			return table->name;
	return NULL;
}

static const char *rv_name(CK_RV rv)
{
	const char *n = name_of(p11conf_ckr_names, rv);
	return n != NULL ? n : "CKR_VENDOR_DEFINED";
}

static void print_name(const struct p11conf_name *table, CK_ULONG value)
{
	const char *n = name_of(table, value);
	if (n != NULL)
		printf("%s", n);
	else
		printf("0x%08lx", (unsigned long)value);
}

static void print_flags(const struct p11conf_name *table, CK_FLAGS flags)
{
	CK_FLAGS rest = flags;
	bool first = true;

	printf("0x%08lx", (unsigned long)flags);
	for (; table->name != NULL; table++) {
		if ((flags & table->value) == 0)
			continue;
		printf("%s%s", first ? " " : " | ", table->name);
		first = false;
		rest &= ~table->value;
	}
	if (rest != 0)
		printf("%s0x%08lx", first ? " " : " | ", (unsigned long)rest);
	printf("\n");
}

/* A fixed-width, blank-padded PKCS#11 string, printed without the padding. */
static void print_padded(const CK_UTF8CHAR *s, size_t len)
{
	while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\0'))
		len--;
	printf("%.*s\n", (int)len, (const char *)s);
}

static int p11_fail(const struct p11conf *c, const char *call, CK_RV rv)
{
	fprintf(stderr, _("%s: %s failed: %s (0x%08lx)\n"), c->prog, call, rv_name(rv),
		(unsigned long)rv);
	return EXIT_P11;
}

static void usage(FILE *out, const char *prog)
{
	fprintf(out, _("usage: %s [-hitsmIupPredf] -A APIpath [-c slotID\n"
		       "-U userPin -S SOPin -n newPin -L label]\n"), prog);
	fputs(_("-h display usage\n"
		"-i display PKCS#11 library info\n"
		"-s display slot(s) info (-c slotID is optional)\n"
		"-t display token(s) info (-c slotID is optional)\n"
		"Others must use -c slotID\n"
		"-m display mechanism list\n"
		"-I initialize token\n"
		"-u initialize user PIN\n"
		"-p set the user PIN\n"
		"-P set the SO PIN\n"
		"-e enumerate objects\n"
		"-d dump all object attributes (additional to -e and to -f)\n"
		"-r remove all objects\n"
		"-e -r remove enumerated objects with prompt\n"
		"-f enumerate certificates and write them to DER-files with prompt\n"),
	      out);
	fputs(_("GOST keys and certificates (need -c slotID; the user PIN is -U or asked):\n"
		"--generate-key PARAMSET  generate a GOST R 34.10-2012 key pair on the token;\n"
		"    PARAMSET: tc26-256-A, tc26-256-B, tc26-256-C, tc26-256-D,\n"
		"    cp-A, cp-B, cp-C, cp-XchA, cp-XchB (256 bits),\n"
		"    tc26-512-A, tc26-512-B, tc26-512-C (512 bits)\n"
		"--request SUBJECT --out FILE [--der]  write a PKCS#10 request for a token key,\n"
		"    signed on the token; SUBJECT \"/CN=Ivan/O=Org/C=RU\" or \"CN=Ivan,O=Org,C=RU\"\n"
		"--import-cert FILE  import an X.509 certificate (DER or PEM) with the CKA_ID of\n"
		"    the key pair whose public key it holds\n"
		"--import-p12 FILE [--p12-password PASSWORD]  import the GOST keys and the\n"
		"    certificates of a PKCS#12 file (the password is asked when not given)\n"
		"--label LABEL  object label (of the new objects; chooses the key of --request)\n"
		"--id HEX  object CKA_ID (default: Streebog-256 of the public key value)\n"),
	      out);
	fprintf(out, _("Version %s\n"), PACKAGE_VERSION);
	fputs(_("Copyright (C) 2026 LS11CLOUD developers\n"), out);
}

/* ------------------------------------------------------------------------------------------
 * PINs and prompts
 * ---------------------------------------------------------------------------------------- */

static void secret_free(char *s)
{
	if (s == NULL)
		return;
	explicit_bzero(s, strlen(s));
	free(s);
}

/*
 * Reads a line from /dev/tty with echo off.  Returns a malloc'd string, or NULL with errno set
 * (ENXIO and friends when there is no terminal).
 */
static char *tty_read_secret(const char *prompt)
{
	struct termios old, quiet;
	char buf[256];
	size_t n = 0;
	char *out = NULL;
	bool restore = false;
	int fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);

	if (fd < 0)
		return NULL;
	if (tcgetattr(fd, &old) == 0) {
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
		quiet.c_lflag |= ICANON;
		restore = tcsetattr(fd, TCSAFLUSH, &quiet) == 0;
	}
	if (write(fd, prompt, strlen(prompt)) < 0)
		goto out;
	for (;;) {
		char ch;
		ssize_t r = read(fd, &ch, 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0 || ch == '\n' || ch == '\r')
			break;
		if (n + 1 < sizeof(buf))
			buf[n++] = ch;
	}
	buf[n] = '\0';
	if (write(fd, "\n", 1) < 0) {
		/* nothing to do: the PIN was read */
	}
	out = strdup(buf);
out:
	if (restore)
		tcsetattr(fd, TCSAFLUSH, &old);
	explicit_bzero(buf, sizeof(buf));
	close(fd);
	return out;
}

/*
 * Makes sure *pin is set: given on the command line, or asked on the terminal.  what names the
 * PIN, opt the option that gives it.  Returns 0 or EXIT_USAGE with a message.
 */
static int need_pin(const struct p11conf *c, char **pin, const char *what, const char *opt)
{
	char prompt[128];

	if (*pin != NULL)
		return 0;
	snprintf(prompt, sizeof(prompt), _("Enter %s: "), what);
	*pin = tty_read_secret(prompt);
	if (*pin == NULL) {
		fprintf(stderr, _("%s: the %s is needed: give it with %s (no terminal to ask on: "
				  "/dev/tty: %s)\n"),
			c->prog, what, opt, strerror(errno));
		return EXIT_USAGE;
	}
	return 0;
}

static int need_new_pin(struct p11conf *c)
{
	char *again;
	int ret;

	if (c->new_pin != NULL)
		return 0;
	ret = need_pin(c, &c->new_pin, _("new PIN"), "-n");
	if (ret != 0)
		return ret;
	again = tty_read_secret(_("Repeat new PIN: "));
	if (again == NULL || strcmp(again, c->new_pin) != 0) {
		fprintf(stderr, _("%s: the new PINs do not match\n"), c->prog);
		secret_free(again);
		return EXIT_USAGE;
	}
	secret_free(again);
	return 0;
}

/* Asks a yes/no question on stdout and reads the answer from stdin: true for y or yes. */
static bool confirm(const char *question)
{
	char line[64];

	printf("%s [y/N] ", question);
	fflush(stdout);
	if (fgets(line, sizeof(line), stdin) == NULL) {
		printf("\n");
		return false;
	}
	return line[0] == 'y' || line[0] == 'Y';
}

/* ------------------------------------------------------------------------------------------
 * Module
 * ---------------------------------------------------------------------------------------- */

static int module_load(struct p11conf *c)
{
	CK_C_GetFunctionList get_list;
	CK_C_INITIALIZE_ARGS args;
	CK_RV rv;

	c->dl = dlopen(c->api_path, RTLD_NOW | RTLD_LOCAL);
	if (c->dl == NULL) {
		fprintf(stderr, _("%s: cannot load the PKCS#11 library: %s\n"), c->prog, dlerror());
		return EXIT_P11;
	}
	*(void **)&get_list = dlsym(c->dl, "C_GetFunctionList");
	if (get_list == NULL) {
		fprintf(stderr, _("%s: %s is not a PKCS#11 library: no C_GetFunctionList\n"), c->prog,
			c->api_path);
		return EXIT_P11;
	}
	rv = get_list(&c->f);
	if (rv != CKR_OK)
		return p11_fail(c, "C_GetFunctionList", rv);
	if (c->f == NULL) {
		fprintf(stderr, _("%s: C_GetFunctionList returned no function list\n"), c->prog);
		return EXIT_P11;
	}
	memset(&args, 0, sizeof(args));
	args.flags = CKF_OS_LOCKING_OK;
	rv = c->f->C_Initialize(&args);
	if (rv != CKR_OK)
		return p11_fail(c, "C_Initialize", rv);
	c->initialized = true;
	return 0;
}

static void module_unload(struct p11conf *c)
{
	if (c->initialized)
		c->f->C_Finalize(NULL);
	c->initialized = false;
	/* The module is not dlclose()d: some modules leave threads or atexit handlers behind. */
}

/* The slots to show: the one of -c, or all (only those with a token when tokens). */
static int slot_list(struct p11conf *c, bool tokens, CK_SLOT_ID **out, CK_ULONG *count)
{
	CK_SLOT_ID *slots = NULL;
	CK_ULONG n = 0;
	CK_RV rv;

	*out = NULL;
	*count = 0;
	if (c->have_slot) {
		slots = malloc(sizeof(*slots));
		if (slots == NULL)
			return EXIT_P11;
		slots[0] = c->slot;
		*out = slots;
		*count = 1;
		return 0;
	}
	rv = c->f->C_GetSlotList(tokens ? CK_TRUE : CK_FALSE, NULL, &n);
	if (rv != CKR_OK)
		return p11_fail(c, "C_GetSlotList", rv);
	slots = calloc(n > 0 ? n : 1, sizeof(*slots));
	if (slots == NULL)
		return EXIT_P11;
	rv = c->f->C_GetSlotList(tokens ? CK_TRUE : CK_FALSE, slots, &n);
	if (rv != CKR_OK) {
		free(slots);
		return p11_fail(c, "C_GetSlotList", rv);
	}
	*out = slots;
	*count = n;
	return 0;
}

/* ------------------------------------------------------------------------------------------
 * -i -s -t -m
 * ---------------------------------------------------------------------------------------- */

static int show_info(struct p11conf *c)
{
	CK_INFO info;
	CK_RV rv = c->f->C_GetInfo(&info);

	if (rv != CKR_OK)
		return p11_fail(c, "C_GetInfo", rv);
	printf(_("PKCS#11 library info:\n"));
	printf(_("  Cryptoki version:    %u.%u\n"), info.cryptokiVersion.major,
	       info.cryptokiVersion.minor);
	printf(_("  Manufacturer:        "));
	print_padded(info.manufacturerID, sizeof(info.manufacturerID));
	printf(_("  Flags:               "));
	print_flags(no_flags, info.flags);
	printf(_("  Library description: "));
	print_padded(info.libraryDescription, sizeof(info.libraryDescription));
	printf(_("  Library version:     %u.%u\n"), info.libraryVersion.major,
	       info.libraryVersion.minor);
	return 0;
}

static int show_slots(struct p11conf *c)
{
	CK_SLOT_ID *slots;
	CK_ULONG n;
	int ret = slot_list(c, false, &slots, &n);

	if (ret != 0)
		return ret;
	printf(_("Slots: %lu\n"), (unsigned long)n);
	for (CK_ULONG i = 0; i < n; i++) {
		CK_SLOT_INFO info;
		CK_RV rv = c->f->C_GetSlotInfo(slots[i], &info);
		if (rv != CKR_OK) {
			ret = p11_fail(c, "C_GetSlotInfo", rv);
			break;
		}
		printf(_("Slot %lu (0x%lx):\n"), (unsigned long)slots[i], (unsigned long)slots[i]);
		printf(_("  Description:         "));
		print_padded(info.slotDescription, sizeof(info.slotDescription));
		printf(_("  Manufacturer:        "));
		print_padded(info.manufacturerID, sizeof(info.manufacturerID));
		printf(_("  Flags:               "));
		print_flags(slot_flags, info.flags);
		printf(_("  Hardware version:    %u.%u\n"), info.hardwareVersion.major,
		       info.hardwareVersion.minor);
		printf(_("  Firmware version:    %u.%u\n"), info.firmwareVersion.major,
		       info.firmwareVersion.minor);
	}
	free(slots);
	return ret;
}

/* CK_EFFECTIVELY_INFINITE (0) means "no limit" only for the maximum counts. */
static void print_count(CK_ULONG v, bool limit)
{
	if (v == CK_UNAVAILABLE_INFORMATION)
		printf(_("unavailable\n"));
	else if (limit && v == CK_EFFECTIVELY_INFINITE)
		printf(_("unlimited\n"));
	else
		printf("%lu\n", (unsigned long)v);
}

static int show_tokens(struct p11conf *c)
{
	CK_SLOT_ID *slots;
	CK_ULONG n;
	int ret = slot_list(c, true, &slots, &n);

	if (ret != 0)
		return ret;
	printf(_("Tokens: %lu\n"), (unsigned long)n);
	for (CK_ULONG i = 0; i < n; i++) {
		CK_TOKEN_INFO t;
		CK_RV rv = c->f->C_GetTokenInfo(slots[i], &t);
		if (rv != CKR_OK) {
			ret = p11_fail(c, "C_GetTokenInfo", rv);
			break;
		}
		printf(_("Token in slot %lu (0x%lx):\n"), (unsigned long)slots[i],
		       (unsigned long)slots[i]);
		printf(_("  Label:               "));
		print_padded(t.label, sizeof(t.label));
		printf(_("  Manufacturer:        "));
		print_padded(t.manufacturerID, sizeof(t.manufacturerID));
		printf(_("  Model:               "));
		print_padded(t.model, sizeof(t.model));
		printf(_("  Serial number:       "));
		print_padded(t.serialNumber, sizeof(t.serialNumber));
		printf(_("  Flags:               "));
		print_flags(token_flags, t.flags);
		printf(_("  Sessions (max):      "));
		print_count(t.ulMaxSessionCount, true);
		printf(_("  Sessions:            "));
		print_count(t.ulSessionCount, false);
		printf(_("  R/W sessions (max):  "));
		print_count(t.ulMaxRwSessionCount, true);
		printf(_("  R/W sessions:        "));
		print_count(t.ulRwSessionCount, false);
		printf(_("  PIN length:          %lu..%lu\n"), (unsigned long)t.ulMinPinLen,
		       (unsigned long)t.ulMaxPinLen);
		printf(_("  Public memory:       "));
		print_count(t.ulFreePublicMemory, false);
		printf(_("  Public memory total: "));
		print_count(t.ulTotalPublicMemory, false);
		printf(_("  Private memory:      "));
		print_count(t.ulFreePrivateMemory, false);
		printf(_("  Private memory total:"));
		printf(" ");
		print_count(t.ulTotalPrivateMemory, false);
		printf(_("  Hardware version:    %u.%u\n"), t.hardwareVersion.major,
		       t.hardwareVersion.minor);
		printf(_("  Firmware version:    %u.%u\n"), t.firmwareVersion.major,
		       t.firmwareVersion.minor);
		printf(_("  UTC time:            "));
		if (t.flags & CKF_CLOCK_ON_TOKEN)
			print_padded(t.utcTime, sizeof(t.utcTime));
		else
			printf(_("none\n"));
	}
	free(slots);
	return ret;
}

static int show_mechanisms(struct p11conf *c)
{
	CK_MECHANISM_TYPE *mechs = NULL;
	CK_ULONG n = 0;
	CK_RV rv = c->f->C_GetMechanismList(c->slot, NULL, &n);
	int ret = 0;

	if (rv != CKR_OK)
		return p11_fail(c, "C_GetMechanismList", rv);
	mechs = calloc(n > 0 ? n : 1, sizeof(*mechs));
	if (mechs == NULL)
		return EXIT_P11;
	rv = c->f->C_GetMechanismList(c->slot, mechs, &n);
	if (rv != CKR_OK) {
		free(mechs);
		return p11_fail(c, "C_GetMechanismList", rv);
	}
	printf(_("Mechanisms of slot %lu: %lu\n"), (unsigned long)c->slot, (unsigned long)n);
	for (CK_ULONG i = 0; i < n; i++) {
		CK_MECHANISM_INFO mi;
		rv = c->f->C_GetMechanismInfo(c->slot, mechs[i], &mi);
		if (rv != CKR_OK) {
			ret = p11_fail(c, "C_GetMechanismInfo", rv);
			break;
		}
		printf("  ");
		print_name(p11conf_ckm_names, mechs[i]);
		printf(_(" (0x%08lx): key size %lu..%lu, flags "), (unsigned long)mechs[i],
		       (unsigned long)mi.ulMinKeySize, (unsigned long)mi.ulMaxKeySize);
		print_flags(mech_flags, mi.flags);
	}
	free(mechs);
	return ret;
}

/* ------------------------------------------------------------------------------------------
 * -I -u -p -P
 * ---------------------------------------------------------------------------------------- */

static int open_session(struct p11conf *c, CK_SESSION_HANDLE *s)
{
	CK_RV rv = c->f->C_OpenSession(c->slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, s);
	if (rv != CKR_OK)
		return p11_fail(c, "C_OpenSession", rv);
	return 0;
}

static int login(struct p11conf *c, CK_SESSION_HANDLE s, CK_USER_TYPE who, const char *pin)
{
	CK_RV rv = c->f->C_Login(s, who, (CK_UTF8CHAR_PTR)pin, strlen(pin));
	if (rv != CKR_OK && rv != CKR_USER_ALREADY_LOGGED_IN)
		return p11_fail(c, "C_Login", rv);
	return 0;
}

static int init_token(struct p11conf *c)
{
	CK_UTF8CHAR label[32];
	size_t len = strlen(c->label);
	int ret = need_pin(c, &c->so_pin, _("SO PIN"), "-S");
	CK_RV rv;

	if (ret != 0)
		return ret;
	memset(label, ' ', sizeof(label));
	memcpy(label, c->label, len);
	rv = c->f->C_InitToken(c->slot, (CK_UTF8CHAR_PTR)c->so_pin, strlen(c->so_pin), label);
	if (rv != CKR_OK)
		return p11_fail(c, "C_InitToken", rv);
	printf(_("Token in slot %lu initialised, label \"%s\"\n"), (unsigned long)c->slot, c->label);
	return 0;
}

static int init_user_pin(struct p11conf *c)
{
	CK_SESSION_HANDLE s;
	CK_RV rv;
	int ret = need_pin(c, &c->so_pin, _("SO PIN"), "-S");

	if (ret == 0)
		ret = need_new_pin(c);
	if (ret != 0)
		return ret;
	ret = open_session(c, &s);
	if (ret != 0)
		return ret;
	ret = login(c, s, CKU_SO, c->so_pin);
	if (ret == 0) {
		rv = c->f->C_InitPIN(s, (CK_UTF8CHAR_PTR)c->new_pin, strlen(c->new_pin));
		if (rv != CKR_OK)
			ret = p11_fail(c, "C_InitPIN", rv);
		else
			printf(_("User PIN initialised\n"));
		c->f->C_Logout(s);
	}
	c->f->C_CloseSession(s);
	return ret;
}

static int set_pin(struct p11conf *c, CK_USER_TYPE who)
{
	char **old = who == CKU_SO ? &c->so_pin : &c->user_pin;
	CK_SESSION_HANDLE s;
	CK_RV rv;
	int ret = who == CKU_SO ? need_pin(c, old, _("SO PIN"), "-S")
				: need_pin(c, old, _("user PIN"), "-U");

	if (ret == 0)
		ret = need_new_pin(c);
	if (ret != 0)
		return ret;
	ret = open_session(c, &s);
	if (ret != 0)
		return ret;
	ret = login(c, s, who, *old);
	if (ret == 0) {
		rv = c->f->C_SetPIN(s, (CK_UTF8CHAR_PTR)*old, strlen(*old),
				    (CK_UTF8CHAR_PTR)c->new_pin, strlen(c->new_pin));
		if (rv != CKR_OK)
			ret = p11_fail(c, "C_SetPIN", rv);
		else
			printf(who == CKU_SO ? _("SO PIN changed\n") : _("User PIN changed\n"));
		c->f->C_Logout(s);
	}
	c->f->C_CloseSession(s);
	return ret;
}

/* ------------------------------------------------------------------------------------------
 * -e -d -r -f
 * ---------------------------------------------------------------------------------------- */

/* Gets one attribute into a malloc'd buffer (*len bytes); CKR_* on failure. */
static CK_RV get_attr(struct p11conf *c, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o,
		      CK_ATTRIBUTE_TYPE type, unsigned char **val, CK_ULONG *len)
{
	CK_ATTRIBUTE a = { type, NULL, 0 };
	CK_RV rv = c->f->C_GetAttributeValue(s, o, &a, 1);

	*val = NULL;
	*len = 0;
	if (rv != CKR_OK)
		return rv;
	if (a.ulValueLen == CK_UNAVAILABLE_INFORMATION)
		return CKR_ATTRIBUTE_TYPE_INVALID;
	a.pValue = malloc(a.ulValueLen > 0 ? a.ulValueLen : 1);
	if (a.pValue == NULL)
		return CKR_HOST_MEMORY;
	rv = c->f->C_GetAttributeValue(s, o, &a, 1);
	if (rv != CKR_OK) {
		free(a.pValue);
		return rv;
	}
	*val = a.pValue;
	*len = a.ulValueLen;
	return CKR_OK;
}

static bool get_ulong(struct p11conf *c, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o,
		      CK_ATTRIBUTE_TYPE type, CK_ULONG *out)
{
	CK_ATTRIBUTE a = { type, out, sizeof(*out) };
	return c->f->C_GetAttributeValue(s, o, &a, 1) == CKR_OK;
}

static void print_hex(const unsigned char *v, CK_ULONG len)
{
	for (CK_ULONG i = 0; i < len; i++)
		printf("%02x", v[i]);
}

static void print_text_or_hex(const unsigned char *v, CK_ULONG len)
{
	bool text = true;

	for (CK_ULONG i = 0; i < len; i++)
		if (!isprint(v[i]))
			text = false;
	if (text)
		printf("\"%.*s\"", (int)len, (const char *)v);
	else
		print_hex(v, len);
}

static bool attr_is_ulong_name(CK_ATTRIBUTE_TYPE t, const struct p11conf_name **table)
{
	switch (t) {
	case CKA_CLASS:
		*table = p11conf_cko_names;
		return true;
	case CKA_KEY_TYPE:
		*table = p11conf_ckk_names;
		return true;
	case CKA_CERTIFICATE_TYPE:
		*table = p11conf_ckc_names;
		return true;
	case CKA_KEY_GEN_MECHANISM:
	case CKA_MECHANISM_TYPE:
		*table = p11conf_ckm_names;
		return true;
	default:
		return false;
	}
}

static void dump_attributes(struct p11conf *c, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o)
{
	for (const struct p11conf_name *a = p11conf_cka_names; a->name != NULL; a++) {
		const struct p11conf_name *table;
		unsigned char *v;
		CK_ULONG len;
		CK_RV rv = get_attr(c, s, o, a->value, &v, &len);

		if (rv == CKR_ATTRIBUTE_SENSITIVE) {
			printf(_("    %s: <sensitive>\n"), a->name);
			continue;
		}
		if (rv != CKR_OK)
			continue;
		printf("    %s: ", a->name);
		if (len == sizeof(CK_ULONG) && attr_is_ulong_name(a->value, &table)) {
			CK_ULONG u;
			memcpy(&u, v, sizeof(u));
			print_name(table, u);
		} else if (len == sizeof(CK_BBOOL) && a->value != CKA_VALUE &&
			   a->value != CKA_LABEL && a->value != CKA_ID && (v[0] == 0 || v[0] == 1)) {
			printf("%s", v[0] ? "CK_TRUE" : "CK_FALSE");
		} else if (len == sizeof(CK_ULONG) &&
			   (a->value == CKA_MODULUS_BITS || a->value == CKA_VALUE_LEN ||
			    a->value == CKA_VALUE_BITS || a->value == CKA_CERTIFICATE_CATEGORY ||
			    a->value == CKA_JAVA_MIDP_SECURITY_DOMAIN ||
			    a->value == CKA_NAME_HASH_ALGORITHM || a->value == CKA_PRIME_BITS ||
			    a->value == CKA_SUB_PRIME_BITS || a->value == CKA_HW_FEATURE_TYPE)) {
			CK_ULONG u;
			memcpy(&u, v, sizeof(u));
			printf("%lu", (unsigned long)u);
		} else if (a->value == CKA_LABEL || a->value == CKA_APPLICATION ||
			   a->value == CKA_URL || a->value == CKA_START_DATE ||
			   a->value == CKA_END_DATE) {
			print_text_or_hex(v, len);
		} else {
			print_hex(v, len);
		}
		printf(_(" (%lu bytes)\n"), (unsigned long)len);
		free(v);
	}
}

static void print_object(struct p11conf *c, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o,
			 unsigned long index)
{
	CK_ULONG cls;
	unsigned char *v;
	CK_ULONG len;

	printf(_("Object %lu (handle 0x%lx): "), index, (unsigned long)o);
	if (get_ulong(c, s, o, CKA_CLASS, &cls))
		print_name(p11conf_cko_names, cls);
	else
		printf("?");
	printf(_(", label "));
	if (get_attr(c, s, o, CKA_LABEL, &v, &len) == CKR_OK) {
		printf("\"%.*s\"", (int)len, (const char *)v);
		free(v);
	} else {
		printf("-");
	}
	printf(_(", id "));
	if (get_attr(c, s, o, CKA_ID, &v, &len) == CKR_OK && len > 0)
		print_hex(v, len);
	else
		printf("-");
	free(v);
	printf("\n");
}

/* All the objects the session sees (certificates only when certs), in a malloc'd array. */
static int find_objects(struct p11conf *c, CK_SESSION_HANDLE s, bool certs,
			CK_OBJECT_HANDLE **out, CK_ULONG *count)
{
	CK_OBJECT_CLASS cls = CKO_CERTIFICATE;
	CK_ATTRIBUTE tmpl = { CKA_CLASS, &cls, sizeof(cls) };
	CK_OBJECT_HANDLE *all = NULL;
	CK_ULONG n = 0, cap = 0;
	CK_RV rv = c->f->C_FindObjectsInit(s, certs ? &tmpl : NULL, certs ? 1 : 0);

	if (rv != CKR_OK)
		return p11_fail(c, "C_FindObjectsInit", rv);
	for (;;) {
		CK_OBJECT_HANDLE batch[32];
		CK_ULONG got = 0;
		rv = c->f->C_FindObjects(s, batch, 32, &got);
		if (rv != CKR_OK) {
			c->f->C_FindObjectsFinal(s);
			free(all);
			return p11_fail(c, "C_FindObjects", rv);
		}
		if (got == 0)
			break;
		if (n + got > cap) {
			CK_OBJECT_HANDLE *more;
			cap = (n + got) * 2;
			more = realloc(all, cap * sizeof(*all));
			if (more == NULL) {
				c->f->C_FindObjectsFinal(s);
				free(all);
				return EXIT_P11;
			}
			all = more;
		}
		memcpy(all + n, batch, got * sizeof(*batch));
		n += got;
	}
	c->f->C_FindObjectsFinal(s);
	*out = all;
	*count = n;
	return 0;
}

/* A file name for a certificate: its label with unsafe characters replaced, or its index. */
static void cert_file_name(char *buf, size_t size, const unsigned char *label, CK_ULONG len,
			   unsigned long index)
{
	size_t j = 0;

	for (CK_ULONG i = 0; i < len && j + 5 < size; i++) {
		unsigned char ch = label[i];
		buf[j++] = (isalnum(ch) || ch == '-' || ch == '_' || ch == '.') ? (char)ch : '_';
	}
	buf[j] = '\0';
	if (j == 0)
		snprintf(buf, size, "certificate-%lu", index);
	strncat(buf, ".der", size - strlen(buf) - 1);
}

static int write_certificate(struct p11conf *c, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o,
			     unsigned long index)
{
	char name[80], question[160];
	unsigned char *label = NULL, *der = NULL;
	CK_ULONG label_len = 0, der_len = 0;
	CK_RV rv;
	FILE *fp;
	int ret = 0;

	if (get_attr(c, s, o, CKA_LABEL, &label, &label_len) != CKR_OK)
		label_len = 0;
	cert_file_name(name, sizeof(name), label, label_len, index);
	free(label);
	snprintf(question, sizeof(question), _("Write the certificate to %s?"), name);
	if (!confirm(question))
		return 0;
	rv = get_attr(c, s, o, CKA_VALUE, &der, &der_len);
	if (rv != CKR_OK)
		return p11_fail(c, "C_GetAttributeValue(CKA_VALUE)", rv);
	fp = fopen(name, "wb");
	if (fp == NULL || fwrite(der, 1, der_len, fp) != der_len) {
		fprintf(stderr, _("%s: cannot write %s: %s\n"), c->prog, name, strerror(errno));
		ret = EXIT_P11;
	}
	if (fp != NULL && fclose(fp) != 0 && ret == 0) {
		fprintf(stderr, _("%s: cannot write %s: %s\n"), c->prog, name, strerror(errno));
		ret = EXIT_P11;
	}
	if (ret == 0)
		printf(_("Written %s (%lu bytes)\n"), name, (unsigned long)der_len);
	free(der);
	return ret;
}

static int objects(struct p11conf *c, bool enumerate, bool dump, bool remove, bool certs)
{
	CK_SESSION_HANDLE s;
	CK_OBJECT_HANDLE *objs = NULL;
	CK_ULONG n = 0;
	unsigned long removed = 0;
	int ret = 0;

	if (remove) {
		ret = need_pin(c, &c->user_pin, _("user PIN"), "-U");
		if (ret != 0)
			return ret;
	}
	ret = open_session(c, &s);
	if (ret != 0)
		return ret;
	if (c->user_pin != NULL)
		ret = login(c, s, CKU_USER, c->user_pin);
	if (ret == 0)
		ret = find_objects(c, s, certs && !remove && !enumerate, &objs, &n);
	if (ret != 0)
		goto out;
	if (enumerate || certs)
		printf(certs && !enumerate ? _("Certificates: %lu\n") : _("Objects: %lu\n"),
		       (unsigned long)n);
	for (CK_ULONG i = 0; i < n; i++) {
		if (enumerate || certs) {
			print_object(c, s, objs[i], (unsigned long)i + 1);
			if (dump)
				dump_attributes(c, s, objs[i]);
		}
		if (certs && !enumerate) {
			int r = write_certificate(c, s, objs[i], (unsigned long)i + 1);
			if (r != 0)
				ret = r;
		}
		if (remove) {
			CK_RV rv;
			if (enumerate && !confirm(_("Remove this object?")))
				continue;
			rv = c->f->C_DestroyObject(s, objs[i]);
			if (rv != CKR_OK) {
				ret = p11_fail(c, "C_DestroyObject", rv);
				continue;
			}
			removed++;
		}
	}
	if (remove)
		printf(_("Objects removed: %lu\n"), removed);
out:
	free(objs);
	if (c->user_pin != NULL)
		c->f->C_Logout(s);
	c->f->C_CloseSession(s);
	return ret;
}

/* ------------------------------------------------------------------------------------------
 * --generate-key --request --import-cert --import-p12 (GOST keys and their certificates)
 * ---------------------------------------------------------------------------------------- */

struct pki_opts {
	const char *generate;   /* parameter set name */
	const char *request;    /* subject */
	const char *out;        /* the request file */
	bool der;
	const char *import_cert;
	const char *import_p12;
	char *p12_password;
	const char *obj_label;  /* --label */
	unsigned char id[128];  /* --id */
	size_t id_len;
	bool have_id;
};

static const uint8_t oid_streebog256[] = { 0x06, 0x08, 0x2a, 0x85, 0x03, 0x07, 0x01, 0x01,
					   0x02, 0x02 };
static const uint8_t oid_streebog512[] = { 0x06, 0x08, 0x2a, 0x85, 0x03, 0x07, 0x01, 0x01,
					   0x02, 0x03 };

/* The parameter sets of --generate-key with their DER OIDs (gost-pkcs11.md 2). */
static const struct paramset {
	const char *name;
	unsigned bits;
	uint8_t oid[11];
} paramsets[] = {
	{ "tc26-256-A", 256, { 0x06, 0x09, 0x2a, 0x85, 0x03, 0x07, 0x01, 0x02, 0x01, 0x01, 0x01 } },
	{ "tc26-256-B", 256, { 0x06, 0x09, 0x2a, 0x85, 0x03, 0x07, 0x01, 0x02, 0x01, 0x01, 0x02 } },
	{ "tc26-256-C", 256, { 0x06, 0x09, 0x2a, 0x85, 0x03, 0x07, 0x01, 0x02, 0x01, 0x01, 0x03 } },
	{ "tc26-256-D", 256, { 0x06, 0x09, 0x2a, 0x85, 0x03, 0x07, 0x01, 0x02, 0x01, 0x01, 0x04 } },
	{ "cp-A", 256, { 0x06, 0x07, 0x2a, 0x85, 0x03, 0x02, 0x02, 0x23, 0x01 } },
	{ "cp-B", 256, { 0x06, 0x07, 0x2a, 0x85, 0x03, 0x02, 0x02, 0x23, 0x02 } },
	{ "cp-C", 256, { 0x06, 0x07, 0x2a, 0x85, 0x03, 0x02, 0x02, 0x23, 0x03 } },
	{ "cp-XchA", 256, { 0x06, 0x07, 0x2a, 0x85, 0x03, 0x02, 0x02, 0x24, 0x00 } },
	{ "cp-XchB", 256, { 0x06, 0x07, 0x2a, 0x85, 0x03, 0x02, 0x02, 0x24, 0x01 } },
	{ "tc26-512-A", 512, { 0x06, 0x09, 0x2a, 0x85, 0x03, 0x07, 0x01, 0x02, 0x01, 0x02, 0x01 } },
	{ "tc26-512-B", 512, { 0x06, 0x09, 0x2a, 0x85, 0x03, 0x07, 0x01, 0x02, 0x01, 0x02, 0x02 } },
	{ "tc26-512-C", 512, { 0x06, 0x09, 0x2a, 0x85, 0x03, 0x07, 0x01, 0x02, 0x01, 0x02, 0x03 } },
};

static size_t oid_len(const uint8_t *oid)
{
	return (size_t)oid[1] + 2;
}

static const struct paramset *paramset_find(const char *name)
{
	for (size_t i = 0; i < sizeof(paramsets) / sizeof(paramsets[0]); i++)
		if (strcasecmp(paramsets[i].name, name) == 0)
			return &paramsets[i];
	return NULL;
}

static void print_pki_error(const struct p11conf *c, const char *what, int err)
{
	const char *why;

	switch (err) {
	case LS_ERR_AUTH_FAILED: why = _("wrong password (the MAC or the decryption failed)"); break;
	case LS_ERR_MALFORMED: why = _("not a valid file of this kind (damaged?)"); break;
	case LS_ERR_TRUNCATED: why = _("empty file"); break;
	case LS_ERR_TRAILING_DATA: why = _("unexpected bytes after the data"); break;
	case LS_ERR_TOO_LARGE: why = _("too large"); break;
	case LS_ERR_UNSUPPORTED: why = _("unsupported algorithm or key type (GOST R 34.10-2012 keys only)"); break;
	case LS_ERR_INVALID_ARG: why = _("invalid subject (use /CN=.../O=.../C=RU or CN=...,O=...)"); break;
	case LS_ERR_BAD_POINT: why = _("the public key is not a valid point"); break;
	default: why = ls_strerror(err); break;
	}
	fprintf(stderr, _("%s: %s: %s\n"), c->prog, what, why);
}

/* Reads a whole file of at most LS_X509_MAX_INPUT bytes. */
static int read_whole(const struct p11conf *c, const char *path, uint8_t **out, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf;
	size_t n;

	if (f == NULL) {
		fprintf(stderr, _("%s: %s: %s\n"), c->prog, path, strerror(errno));
		return EXIT_P11;
	}
	buf = malloc(LS_X509_MAX_INPUT + 1);
	if (buf == NULL) {
		fclose(f);
		return EXIT_P11;
	}
	n = fread(buf, 1, LS_X509_MAX_INPUT + 1, f);
	if (ferror(f) || n > LS_X509_MAX_INPUT) {
		fprintf(stderr, _("%s: %s: %s\n"), c->prog, path,
			ferror(f) ? strerror(errno) : _("too large"));
		fclose(f);
		free(buf);
		return EXIT_P11;
	}
	fclose(f);
	*out = buf;
	*len = n;
	return 0;
}

/* Opens a read-write session and logs the user in (the PIN of -U, or asked). */
static int user_session(struct p11conf *c, CK_SESSION_HANDLE *s)
{
	int ret = need_pin(c, &c->user_pin, _("user PIN"), "-U");

	if (ret != 0)
		return ret;
	ret = open_session(c, s);
	if (ret != 0)
		return ret;
	ret = login(c, *s, CKU_USER, c->user_pin);
	if (ret != 0)
		c->f->C_CloseSession(*s);
	return ret;
}

/* Fails with the mechanism's CK_RV name when the token does not offer it. */
static int need_mechanism(struct p11conf *c, CK_MECHANISM_TYPE m, const char *name)
{
	CK_MECHANISM_INFO mi;
	CK_RV rv = c->f->C_GetMechanismInfo(c->slot, m, &mi);
	char call[96];

	if (rv == CKR_OK)
		return 0;
	snprintf(call, sizeof(call), "C_GetMechanismInfo(%s)", name);
	return p11_fail(c, call, rv);
}

/* Up to max objects matching tmpl. */
static int find_matching(struct p11conf *c, CK_SESSION_HANDLE s, CK_ATTRIBUTE *tmpl, CK_ULONG n,
			 CK_OBJECT_HANDLE *found, CK_ULONG max, CK_ULONG *count)
{
	CK_RV rv = c->f->C_FindObjectsInit(s, tmpl, n);

	*count = 0;
	if (rv != CKR_OK)
		return p11_fail(c, "C_FindObjectsInit", rv);
	rv = c->f->C_FindObjects(s, found, max, count);
	c->f->C_FindObjectsFinal(s);
	if (rv != CKR_OK)
		return p11_fail(c, "C_FindObjects", rv);
	return 0;
}

/* The default CKA_ID: Streebog-256 of the public key value (LE(x) || LE(y)). */
static int id_of_public(const uint8_t *pub, size_t len, unsigned char id[32])
{
	return ls_md(LS_MD_STREEBOG256, pub, len, id, 32) == LS_OK ? 0 : EXIT_P11;
}

static int generate_key(struct p11conf *c, const struct pki_opts *po)
{
	const struct paramset *ps = paramset_find(po->generate);
	bool b512 = ps->bits == 512;
	CK_MECHANISM mech = { b512 ? CKM_GOSTR3410_512_KEY_PAIR_GEN : CKM_GOSTR3410_KEY_PAIR_GEN,
			      NULL, 0 };
	CK_OBJECT_CLASS pub_cls = CKO_PUBLIC_KEY, priv_cls = CKO_PRIVATE_KEY;
	CK_KEY_TYPE kt = b512 ? CKK_GOSTR3410_512 : CKK_GOSTR3410;
	CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
	const uint8_t *md = b512 ? oid_streebog512 : oid_streebog256;
	CK_ATTRIBUTE pub_t[10] = {
		{ CKA_CLASS, &pub_cls, sizeof(pub_cls) },
		{ CKA_KEY_TYPE, &kt, sizeof(kt) },
		{ CKA_TOKEN, &yes, sizeof(yes) },
		{ CKA_PRIVATE, &no, sizeof(no) },
		{ CKA_VERIFY, &yes, sizeof(yes) },
		{ CKA_GOSTR3410_PARAMS, (void *)ps->oid, oid_len(ps->oid) },
		{ CKA_GOSTR3411_PARAMS, (void *)md, oid_len(md) },
	};
	CK_ATTRIBUTE priv_t[10] = {
		{ CKA_CLASS, &priv_cls, sizeof(priv_cls) },
		{ CKA_KEY_TYPE, &kt, sizeof(kt) },
		{ CKA_TOKEN, &yes, sizeof(yes) },
		{ CKA_PRIVATE, &yes, sizeof(yes) },
		{ CKA_SENSITIVE, &yes, sizeof(yes) },
		{ CKA_EXTRACTABLE, &no, sizeof(no) },
		{ CKA_SIGN, &yes, sizeof(yes) },
	};
	CK_ULONG np = 7, nq = 7;
	CK_OBJECT_HANDLE pub, priv;
	CK_SESSION_HANDLE s;
	unsigned char id[128], *value = NULL;
	CK_ULONG id_len = 0, value_len = 0;
	CK_RV rv;
	int ret;

	if (po->obj_label != NULL) {
		pub_t[np++] = (CK_ATTRIBUTE){ CKA_LABEL, (void *)po->obj_label, strlen(po->obj_label) };
		priv_t[nq++] = (CK_ATTRIBUTE){ CKA_LABEL, (void *)po->obj_label,
					       strlen(po->obj_label) };
	}
	if (po->have_id) {
		memcpy(id, po->id, po->id_len);
		id_len = po->id_len;
		pub_t[np++] = (CK_ATTRIBUTE){ CKA_ID, id, id_len };
		priv_t[nq++] = (CK_ATTRIBUTE){ CKA_ID, id, id_len };
	}
	ret = user_session(c, &s);
	if (ret != 0)
		return ret;
	rv = c->f->C_GenerateKeyPair(s, &mech, pub_t, np, priv_t, nq, &pub, &priv);
	if (rv != CKR_OK) {
		ret = p11_fail(c, "C_GenerateKeyPair", rv);
		goto out;
	}
	rv = get_attr(c, s, pub, CKA_VALUE, &value, &value_len);
	if (rv != CKR_OK) {
		ret = p11_fail(c, "C_GetAttributeValue(CKA_VALUE)", rv);
		goto undo;
	}
	if (!po->have_id) {
		CK_ATTRIBUTE a = { CKA_ID, id, 32 };

		if (id_of_public(value, value_len, id) != 0) {
			ret = EXIT_P11;
			goto undo;
		}
		id_len = 32;
		rv = c->f->C_SetAttributeValue(s, pub, &a, 1);
		if (rv == CKR_OK)
			rv = c->f->C_SetAttributeValue(s, priv, &a, 1);
		if (rv != CKR_OK) {
			ret = p11_fail(c, "C_SetAttributeValue(CKA_ID)", rv);
			goto undo;
		}
	}
	printf(_("Key pair generated: %s (%u bits)"), ps->name, ps->bits);
	if (po->obj_label != NULL)
		printf(_(", label \"%s\""), po->obj_label);
	printf(_(", id "));
	print_hex(id, id_len);
	printf("\n");
	goto out;
undo:
	/* Leave no half-made key pair behind. */
	c->f->C_DestroyObject(s, priv);
	c->f->C_DestroyObject(s, pub);
out:
	free(value);
	c->f->C_Logout(s);
	c->f->C_CloseSession(s);
	return ret;
}

/* The one GOST private key chosen by --label / --id (or the only one), and its public value. */
static int choose_key(struct p11conf *c, CK_SESSION_HANDLE s, const struct pki_opts *po,
		      CK_OBJECT_HANDLE *priv, CK_KEY_TYPE *kt, unsigned char **pub,
		      CK_ULONG *pub_len, unsigned char **params, CK_ULONG *params_len)
{
	CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY, pcls = CKO_PUBLIC_KEY;
	CK_ATTRIBUTE t[4] = { { CKA_CLASS, &cls, sizeof(cls) } };
	CK_OBJECT_HANDLE found[8], pubh[2];
	CK_ULONG n = 1, count = 0, i, kept = 0, pcount = 0;
	unsigned char *id = NULL;
	CK_ULONG id_len = 0;
	CK_RV rv;
	int ret;

	if (po->obj_label != NULL)
		t[n++] = (CK_ATTRIBUTE){ CKA_LABEL, (void *)po->obj_label, strlen(po->obj_label) };
	if (po->have_id)
		t[n++] = (CK_ATTRIBUTE){ CKA_ID, (void *)po->id, po->id_len };
	ret = find_matching(c, s, t, n, found, 8, &count);
	if (ret != 0)
		return ret;
	for (i = 0; i < count; i++) {
		CK_KEY_TYPE k;
		if (get_ulong(c, s, found[i], CKA_KEY_TYPE, &k) &&
		    (k == CKK_GOSTR3410 || k == CKK_GOSTR3410_512)) {
			found[kept++] = found[i];
			*kt = k;
		}
	}
	if (kept != 1) {
		fprintf(stderr, kept == 0 ? _("%s: no GOST private key on the token matches%s\n")
					  : _("%s: several GOST private keys match%s: choose one "
					      "with --label or --id\n"),
			c->prog, po->obj_label != NULL || po->have_id ? _(" --label/--id") : "");
		return EXIT_P11;
	}
	*priv = found[0];
	rv = get_attr(c, s, *priv, CKA_ID, &id, &id_len);
	if (rv != CKR_OK || id_len == 0) {
		free(id);
		fprintf(stderr, _("%s: the private key has no CKA_ID to find its public key by\n"),
			c->prog);
		return EXIT_P11;
	}
	t[0] = (CK_ATTRIBUTE){ CKA_CLASS, &pcls, sizeof(pcls) };
	t[1] = (CK_ATTRIBUTE){ CKA_ID, id, id_len };
	ret = find_matching(c, s, t, 2, pubh, 2, &pcount);
	free(id);
	if (ret != 0)
		return ret;
	if (pcount != 1) {
		fprintf(stderr, _("%s: %s public key with the private key's CKA_ID\n"), c->prog,
			pcount == 0 ? _("no") : _("more than one"));
		return EXIT_P11;
	}
	rv = get_attr(c, s, pubh[0], CKA_VALUE, pub, pub_len);
	if (rv == CKR_OK)
		rv = get_attr(c, s, pubh[0], CKA_GOSTR3410_PARAMS, params, params_len);
	if (rv != CKR_OK) {
		free(*pub);
		*pub = NULL;
		return p11_fail(c, "C_GetAttributeValue(public key)", rv);
	}
	return 0;
}

static int write_out(const struct p11conf *c, const char *path, const uint8_t *data, size_t len)
{
	FILE *f = fopen(path, "wb");

	if (f == NULL || fwrite(data, 1, len, f) != len || fclose(f) != 0) {
		fprintf(stderr, _("%s: %s: %s\n"), c->prog, path, strerror(errno));
		if (f != NULL)
			fclose(f);
		return EXIT_P11;
	}
	return 0;
}

static int make_request(struct p11conf *c, const struct pki_opts *po)
{
	CK_SESSION_HANDLE s;
	CK_OBJECT_HANDLE priv;
	CK_KEY_TYPE kt = CKK_GOSTR3410;
	CK_MECHANISM mech = { 0, NULL, 0 };
	unsigned char *pub = NULL, *params = NULL;
	CK_ULONG pub_len = 0, params_len = 0, sig_len = 0;
	uint8_t *tbs = NULL, *req = NULL, sig[128];
	size_t tbs_len = 0, req_len = 0;
	ls_curve curve;
	CK_RV rv;
	int ret, r;

	ret = need_mechanism(c, CKM_GOSTR3410_WITH_GOSTR3411_12_256,
			     "CKM_GOSTR3410_WITH_GOSTR3411_12_256");
	if (ret != 0)
		return ret;
	ret = user_session(c, &s);
	if (ret != 0)
		return ret;
	ret = choose_key(c, s, po, &priv, &kt, &pub, &pub_len, &params, &params_len);
	if (ret != 0)
		goto out;
	r = ls_curve_from_oid(params, params_len, &curve);
	if (r != LS_OK || pub_len != 2 * ls_curve_size(curve) ||
	    (kt == CKK_GOSTR3410_512) != (ls_curve_size(curve) == 64)) {
		fprintf(stderr, _("%s: the public key's CKA_GOSTR3410_PARAMS or CKA_VALUE is not "
				  "one of a known GOST R 34.10-2012 parameter set\n"), c->prog);
		ret = EXIT_P11;
		goto out;
	}
	r = ls_csr_tbs(curve, pub, pub_len, po->request, &tbs, &tbs_len);
	if (r != LS_OK) {
		print_pki_error(c, po->request, r);
		ret = r == LS_ERR_INVALID_ARG ? EXIT_USAGE : EXIT_P11;
		goto out;
	}
	mech.mechanism = kt == CKK_GOSTR3410_512 ? CKM_GOSTR3410_WITH_GOSTR3411_12_512
						  : CKM_GOSTR3410_WITH_GOSTR3411_12_256;
	rv = c->f->C_SignInit(s, &mech, priv);
	if (rv != CKR_OK) {
		ret = p11_fail(c, "C_SignInit", rv);
		goto out;
	}
	sig_len = sizeof(sig);
	rv = c->f->C_Sign(s, tbs, tbs_len, sig, &sig_len);
	if (rv != CKR_OK) {
		ret = p11_fail(c, "C_Sign", rv);
		goto out;
	}
	r = ls_csr_assemble(curve, tbs, tbs_len, sig, sig_len, !po->der, &req, &req_len);
	if (r != LS_OK) {
		print_pki_error(c, _("the signed request"), r);
		ret = EXIT_P11;
		goto out;
	}
	ret = write_out(c, po->out, req, req_len);
	if (ret == 0)
		printf(_("Certificate request (%s, %s) written to %s\n"), ls_curve_name(curve),
		       po->der ? "DER" : "PEM", po->out);
out:
	free(pub);
	free(params);
	free(tbs);
	free(req);
	c->f->C_Logout(s);
	c->f->C_CloseSession(s);
	return ret;
}

/* The CKA_ID (and CKA_LABEL) of the public key object whose CKA_VALUE is pub, if any. */
static bool key_of_public(struct p11conf *c, CK_SESSION_HANDLE s, const uint8_t *pub,
			  size_t pub_len, unsigned char **id, CK_ULONG *id_len,
			  unsigned char **label, CK_ULONG *label_len)
{
	CK_OBJECT_CLASS cls = CKO_PUBLIC_KEY;
	CK_ATTRIBUTE t[2] = { { CKA_CLASS, &cls, sizeof(cls) },
			      { CKA_VALUE, (void *)pub, pub_len } };
	CK_OBJECT_HANDLE h;
	CK_ULONG n = 0;

	if (find_matching(c, s, t, 2, &h, 1, &n) != 0 || n == 0)
		return false;
	if (get_attr(c, s, h, CKA_ID, id, id_len) != CKR_OK)
		return false;
	if (get_attr(c, s, h, CKA_LABEL, label, label_len) != CKR_OK) {
		*label = NULL;
		*label_len = 0;
	}
	return true;
}

static CK_RV create_cert(struct p11conf *c, CK_SESSION_HANDLE s, const ls_x509_cert *x,
			 const void *label, size_t label_len, const void *id, size_t id_len,
			 CK_OBJECT_HANDLE *out)
{
	CK_OBJECT_CLASS cls = CKO_CERTIFICATE;
	CK_CERTIFICATE_TYPE ct = CKC_X_509;
	CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
	CK_ATTRIBUTE t[11] = {
		{ CKA_CLASS, &cls, sizeof(cls) },
		{ CKA_CERTIFICATE_TYPE, &ct, sizeof(ct) },
		{ CKA_TOKEN, &yes, sizeof(yes) },
		{ CKA_PRIVATE, &no, sizeof(no) },
		{ CKA_SUBJECT, x->subject, x->subject_len },
		{ CKA_ISSUER, x->issuer, x->issuer_len },
		{ CKA_SERIAL_NUMBER, x->serial, x->serial_len },
		{ CKA_VALUE, x->der, x->der_len },
	};
	CK_ULONG n = 8;

	if (label != NULL && label_len > 0)
		t[n++] = (CK_ATTRIBUTE){ CKA_LABEL, (void *)label, label_len };
	if (id != NULL && id_len > 0)
		t[n++] = (CK_ATTRIBUTE){ CKA_ID, (void *)id, id_len };
	return c->f->C_CreateObject(s, t, n, out);
}

static int import_cert(struct p11conf *c, const struct pki_opts *po)
{
	CK_SESSION_HANDLE s;
	CK_OBJECT_HANDLE h;
	ls_x509_cert x;
	uint8_t *data = NULL;
	size_t len = 0;
	unsigned char *id = NULL, *label = NULL;
	CK_ULONG id_len = 0, label_len = 0;
	const void *use_label, *use_id;
	size_t use_label_len, use_id_len;
	CK_RV rv;
	int ret, r;

	ret = read_whole(c, po->import_cert, &data, &len);
	if (ret != 0)
		return ret;
	r = ls_x509_cert_parse(data, len, &x);
	free(data);
	if (r != LS_OK) {
		print_pki_error(c, po->import_cert, r);
		return EXIT_P11;
	}
	ret = user_session(c, &s);
	if (ret != 0) {
		ls_x509_cert_clear(&x);
		return ret;
	}
	if (x.gost)
		key_of_public(c, s, x.pub, x.pub_len, &id, &id_len, &label, &label_len);
	use_id = po->have_id ? (const void *)po->id : id;
	use_id_len = po->have_id ? po->id_len : id_len;
	use_label = po->obj_label != NULL ? (const void *)po->obj_label : label;
	use_label_len = po->obj_label != NULL ? strlen(po->obj_label) : label_len;
	rv = create_cert(c, s, &x, use_label, use_label_len, use_id, use_id_len, &h);
	if (rv != CKR_OK) {
		ret = p11_fail(c, "C_CreateObject", rv);
	} else {
		printf(_("Certificate imported"));
		if (use_label_len > 0)
			printf(_(", label \"%.*s\""), (int)use_label_len, (const char *)use_label);
		if (use_id_len > 0) {
			printf(_(", id "));
			print_hex(use_id, use_id_len);
		}
		if (id == NULL && !po->have_id)
			printf(_(" (no key pair on the token holds its public key: no CKA_ID)"));
		printf("\n");
	}
	free(id);
	free(label);
	ls_x509_cert_clear(&x);
	c->f->C_Logout(s);
	c->f->C_CloseSession(s);
	return ret;
}

/* Creates one private + public key pair from a PKCS#12 key. */
static CK_RV create_key_pair(struct p11conf *c, CK_SESSION_HANDLE s, const ls_p12_key *k,
			     const void *label, size_t label_len, const void *id, size_t id_len,
			     CK_OBJECT_HANDLE *priv, CK_OBJECT_HANDLE *pub)
{
	CK_OBJECT_CLASS pub_cls = CKO_PUBLIC_KEY, priv_cls = CKO_PRIVATE_KEY;
	bool b512 = k->priv_len == 64;
	CK_KEY_TYPE kt = b512 ? CKK_GOSTR3410_512 : CKK_GOSTR3410;
	CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
	const uint8_t *md = b512 ? oid_streebog512 : oid_streebog256;
	const uint8_t *oid = NULL;
	size_t olen = 0;
	CK_ULONG n;
	CK_RV rv;

	if (ls_curve_oid(k->curve, &oid, &olen) != LS_OK)
		return CKR_GENERAL_ERROR;
	CK_ATTRIBUTE q[12] = {
		{ CKA_CLASS, &priv_cls, sizeof(priv_cls) },
		{ CKA_KEY_TYPE, &kt, sizeof(kt) },
		{ CKA_TOKEN, &yes, sizeof(yes) },
		{ CKA_PRIVATE, &yes, sizeof(yes) },
		{ CKA_SENSITIVE, &yes, sizeof(yes) },
		{ CKA_EXTRACTABLE, &no, sizeof(no) },
		{ CKA_SIGN, &yes, sizeof(yes) },
		{ CKA_VALUE, (void *)k->priv, k->priv_len },
		{ CKA_GOSTR3410_PARAMS, (void *)oid, olen },
		{ CKA_GOSTR3411_PARAMS, (void *)md, oid_len(md) },
	};
	CK_ATTRIBUTE p[12] = {
		{ CKA_CLASS, &pub_cls, sizeof(pub_cls) },
		{ CKA_KEY_TYPE, &kt, sizeof(kt) },
		{ CKA_TOKEN, &yes, sizeof(yes) },
		{ CKA_PRIVATE, &no, sizeof(no) },
		{ CKA_VERIFY, &yes, sizeof(yes) },
		{ CKA_VALUE, (void *)k->pub, k->pub_len },
		{ CKA_GOSTR3410_PARAMS, (void *)oid, olen },
		{ CKA_GOSTR3411_PARAMS, (void *)md, oid_len(md) },
	};
	n = 10;
	if (label != NULL && label_len > 0)
		q[n++] = (CK_ATTRIBUTE){ CKA_LABEL, (void *)label, label_len };
	q[n++] = (CK_ATTRIBUTE){ CKA_ID, (void *)id, id_len };
	rv = c->f->C_CreateObject(s, q, n, priv);
	if (rv != CKR_OK)
		return rv;
	n = 8;
	if (label != NULL && label_len > 0)
		p[n++] = (CK_ATTRIBUTE){ CKA_LABEL, (void *)label, label_len };
	p[n++] = (CK_ATTRIBUTE){ CKA_ID, (void *)id, id_len };
	rv = c->f->C_CreateObject(s, p, n, pub);
	if (rv != CKR_OK)
		c->f->C_DestroyObject(s, *priv);
	return rv;
}

static int import_p12(struct p11conf *c, struct pki_opts *po)
{
	CK_SESSION_HANDLE s;
	CK_OBJECT_HANDLE made[3 * LS_P12_MAX_ITEMS];
	size_t n_made = 0, i, j;
	uint8_t *data = NULL;
	size_t len = 0;
	ls_p12 *p = NULL;
	unsigned char (*ids)[32] = NULL;
	CK_RV rv = CKR_OK;
	int ret, r;

	ret = read_whole(c, po->import_p12, &data, &len);
	if (ret != 0)
		return ret;
	if (po->p12_password == NULL) {
		po->p12_password = tty_read_secret(_("Enter PKCS#12 password: "));
		if (po->p12_password == NULL) {
			fprintf(stderr, _("%s: the PKCS#12 password is needed: give it with "
					  "--p12-password (no terminal to ask on: /dev/tty: %s)\n"),
				c->prog, strerror(errno));
			free(data);
			return EXIT_USAGE;
		}
	}
	r = ls_p12_parse(data, len, po->p12_password, &p);
	free(data);
	if (r != LS_OK) {
		print_pki_error(c, po->import_p12, r);
		return EXIT_P11;
	}
	if (po->have_id && p->n_keys > 1) {
		fprintf(stderr, _("%s: %s holds %zu keys: --id can name only one\n"), c->prog,
			po->import_p12, p->n_keys);
		ret = EXIT_USAGE;
		goto out_free;
	}
	if (p->n_keys == 0 && p->n_certs == 0) {
		fprintf(stderr, _("%s: %s: no key and no certificate in it\n"), c->prog,
			po->import_p12);
		ret = EXIT_P11;
		goto out_free;
	}
	for (i = 0; i < p->n_keys; i++) {
		bool b512 = p->keys[i].priv_len == 64;
		ret = b512 ? need_mechanism(c, CKM_GOSTR3410_512, "CKM_GOSTR3410_512")
			   : need_mechanism(c, CKM_GOSTR3410, "CKM_GOSTR3410");
		if (ret != 0)
			goto out_free;
	}
	ids = calloc(p->n_keys + 1, sizeof(*ids));
	if (ids == NULL) {
		ret = EXIT_P11;
		goto out_free;
	}
	ret = user_session(c, &s);
	if (ret != 0)
		goto out_free;
	for (i = 0; i < p->n_keys; i++) {
		const ls_p12_key *k = &p->keys[i];
		const char *label = po->obj_label != NULL ? po->obj_label : k->friendly_name;
		const void *id = ids[i];
		size_t id_len = 32;

		if (po->have_id) {
			id = po->id;
			id_len = po->id_len;
		} else if (id_of_public(k->pub, k->pub_len, ids[i]) != 0) {
			ret = EXIT_P11;
			goto undo;
		}
		rv = create_key_pair(c, s, k, label, label != NULL ? strlen(label) : 0, id, id_len,
				     &made[n_made], &made[n_made + 1]);
		if (rv != CKR_OK) {
			ret = p11_fail(c, "C_CreateObject(key)", rv);
			goto undo;
		}
		n_made += 2;
		printf(_("Private and public key imported: %s"), ls_curve_name(k->curve));
		if (label != NULL)
			printf(_(", label \"%s\""), label);
		printf(_(", id "));
		print_hex(id, id_len);
		printf("\n");
	}
	for (j = 0; j < p->n_certs; j++) {
		const ls_p12_cert *pc = &p->certs[j];
		const char *label = pc->friendly_name;
		const void *id = NULL;
		size_t id_len = 0;

		/* The certificate of an imported key takes its CKA_ID and label. */
		for (i = 0; i < p->n_keys; i++) {
			const ls_p12_key *k = &p->keys[i];
			if (pc->cert.gost && pc->cert.pub_len == k->pub_len &&
			    memcmp(pc->cert.pub, k->pub, k->pub_len) == 0) {
				if (po->have_id) {
					id = po->id;
					id_len = po->id_len;
				} else {
					id = ids[i];
					id_len = 32;
				}
				if (po->obj_label != NULL)
					label = po->obj_label;
				else if (k->friendly_name != NULL)
					label = k->friendly_name;
			}
		}
		rv = create_cert(c, s, &pc->cert, label, label != NULL ? strlen(label) : 0, id,
				 id_len, &made[n_made]);
		if (rv != CKR_OK) {
			ret = p11_fail(c, "C_CreateObject(certificate)", rv);
			goto undo;
		}
		n_made++;
		printf(_("Certificate imported"));
		if (label != NULL)
			printf(_(", label \"%s\""), label);
		if (id_len > 0) {
			printf(_(", id "));
			print_hex(id, id_len);
		}
		printf("\n");
	}
	printf(_("PKCS#12 imported: %zu private key(s), %zu certificate(s)\n"), p->n_keys,
	       p->n_certs);
	goto out;
undo:
	/* All or nothing: what this run created goes away again. */
	for (i = 0; i < n_made; i++)
		c->f->C_DestroyObject(s, made[i]);
out:
	c->f->C_Logout(s);
	c->f->C_CloseSession(s);
out_free:
	free(ids);
	ls_p12_free(p);
	return ret;
}

static int parse_hex_id(const char *s, struct pki_opts *po)
{
	size_t n = strlen(s), i;

	if (n == 0 || n % 2 != 0 || n / 2 > sizeof(po->id))
		return -1;
	for (i = 0; i < n / 2; i++) {
		unsigned v;
		if (!isxdigit((unsigned char)s[2 * i]) || !isxdigit((unsigned char)s[2 * i + 1]) ||
		    sscanf(s + 2 * i, "%2x", &v) != 1)
			return -1;
		po->id[i] = (unsigned char)v;
	}
	po->id_len = n / 2;
	po->have_id = true;
	return 0;
}

/* ------------------------------------------------------------------------------------------
 * main
 * ---------------------------------------------------------------------------------------- */

static char *take_secret(char *arg)
{
	char *copy = strdup(arg);
	/* Blank the argument so that ps shows no PIN. */
	explicit_bzero(arg, strlen(arg));
	return copy;
}

static int usage_error(const char *prog, const char *what)
{
	fprintf(stderr, "%s: %s\n", prog, what);
	fprintf(stderr, _("Try '%s -h' for help.\n"), prog);
	return EXIT_USAGE;
}

int main(int argc, char **argv)
{
	struct p11conf c = { 0 };
	bool o_h = false, o_i = false, o_s = false, o_t = false, o_m = false, o_I = false;
	bool o_u = false, o_p = false, o_P = false, o_e = false, o_d = false, o_r = false;
	bool o_f = false;
	struct pki_opts po = { 0 };
	enum { OPT_GENERATE = 0x100, OPT_REQUEST, OPT_OUT, OPT_DER, OPT_IMPORT_CERT,
	       OPT_IMPORT_P12, OPT_P12_PASSWORD, OPT_LABEL, OPT_ID };
	static const struct option longopts[] = {
		{ "generate-key", required_argument, NULL, OPT_GENERATE },
		{ "request", required_argument, NULL, OPT_REQUEST },
		{ "out", required_argument, NULL, OPT_OUT },
		{ "der", no_argument, NULL, OPT_DER },
		{ "import-cert", required_argument, NULL, OPT_IMPORT_CERT },
		{ "import-p12", required_argument, NULL, OPT_IMPORT_P12 },
		{ "p12-password", required_argument, NULL, OPT_P12_PASSWORD },
		{ "label", required_argument, NULL, OPT_LABEL },
		{ "id", required_argument, NULL, OPT_ID },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	bool o_pki;
	int opt, ret = 0;
	char *end;

	ls_tools_i18n_init();
	c.prog = argc > 0 && argv[0] != NULL ? argv[0] : "p11conf";
	const char *slash = strrchr(c.prog, '/');
	if (slash != NULL)
		c.prog = slash + 1;

	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":hitsmIupPredfA:c:U:S:n:L:", longopts, NULL)) !=
	       -1) {
		switch (opt) {
		case OPT_GENERATE: po.generate = optarg; break;
		case OPT_REQUEST: po.request = optarg; break;
		case OPT_OUT: po.out = optarg; break;
		case OPT_DER: po.der = true; break;
		case OPT_IMPORT_CERT: po.import_cert = optarg; break;
		case OPT_IMPORT_P12: po.import_p12 = optarg; break;
		case OPT_P12_PASSWORD:
			secret_free(po.p12_password);
			po.p12_password = take_secret(optarg);
			break;
		case OPT_LABEL: po.obj_label = optarg; break;
		case OPT_ID:
			if (parse_hex_id(optarg, &po) != 0) {
				ret = usage_error(c.prog, _("--id needs an even number of hex digits "
							    "(at most 128 bytes)"));
				goto out;
			}
			break;
		case 'h': o_h = true; break;
		case 'i': o_i = true; break;
		case 't': o_t = true; break;
		case 's': o_s = true; break;
		case 'm': o_m = true; break;
		case 'I': o_I = true; break;
		case 'u': o_u = true; break;
		case 'p': o_p = true; break;
		case 'P': o_P = true; break;
		case 'r': o_r = true; break;
		case 'e': o_e = true; break;
		case 'd': o_d = true; break;
		case 'f': o_f = true; break;
		case 'A': c.api_path = optarg; break;
		case 'c':
			errno = 0;
			c.slot = strtoul(optarg, &end, 0);
			if (errno != 0 || end == optarg || *end != '\0' || optarg[0] == '-') {
				ret = usage_error(c.prog, _("-c needs a slot number"));
				goto out;
			}
			c.have_slot = true;
			break;
		case 'U': secret_free(c.user_pin); c.user_pin = take_secret(optarg); break;
		case 'S': secret_free(c.so_pin); c.so_pin = take_secret(optarg); break;
		case 'n': secret_free(c.new_pin); c.new_pin = take_secret(optarg); break;
		case 'L': c.label = optarg; break;
		case ':': {
			char msg[96];
			if (optopt >= 0x100 || optopt == 0)
				snprintf(msg, sizeof(msg), _("option %s needs an argument"),
					 argv[optind - 1]);
			else
				snprintf(msg, sizeof(msg), _("option -%c needs an argument"), optopt);
			ret = usage_error(c.prog, msg);
			goto out;
		}
		default: {
			char msg[96];
			if (optopt == 0)
				snprintf(msg, sizeof(msg), _("unknown option %s"), argv[optind - 1]);
			else
				snprintf(msg, sizeof(msg), _("unknown option -%c"), optopt);
			ret = usage_error(c.prog, msg);
			goto out;
		}
		}
	}
	if (optind < argc) {
		ret = usage_error(c.prog, _("unexpected argument"));
		goto out;
	}
	if (o_h) {
		usage(stdout, c.prog);
		goto out;
	}
	o_pki = po.generate != NULL || po.request != NULL || po.import_cert != NULL ||
		po.import_p12 != NULL;
	if (!(o_i || o_s || o_t || o_m || o_I || o_u || o_p || o_P || o_e || o_r || o_f || o_pki)) {
		usage(stderr, c.prog);
		ret = EXIT_USAGE;
		goto out;
	}
	if (c.api_path == NULL) {
		ret = usage_error(c.prog, _("-A APIpath (the PKCS#11 library) is required"));
		goto out;
	}
	if ((o_m || o_I || o_u || o_p || o_P || o_e || o_r || o_f) && !c.have_slot) {
		ret = usage_error(c.prog, _("-m, -I, -u, -p, -P, -e, -r and -f need -c slotID"));
		goto out;
	}
	if (o_pki && !c.have_slot) {
		ret = usage_error(c.prog, _("--generate-key, --request, --import-cert and "
					    "--import-p12 need -c slotID"));
		goto out;
	}
	if (po.generate != NULL && paramset_find(po.generate) == NULL) {
		ret = usage_error(c.prog, _("unknown parameter set for --generate-key (see -h)"));
		goto out;
	}
	if ((po.request != NULL) != (po.out != NULL) || (po.der && po.request == NULL)) {
		ret = usage_error(c.prog, _("--request SUBJECT goes with --out FILE (and --der)"));
		goto out;
	}
	if (po.p12_password != NULL && po.import_p12 == NULL) {
		ret = usage_error(c.prog, _("--p12-password goes with --import-p12"));
		goto out;
	}
	if ((po.obj_label != NULL || po.have_id) && !o_pki) {
		ret = usage_error(c.prog, _("--label and --id go with --generate-key, --request, "
					    "--import-cert or --import-p12"));
		goto out;
	}
	if (o_d && !(o_e || o_f)) {
		ret = usage_error(c.prog, _("-d goes with -e or -f"));
		goto out;
	}
	if (o_I && c.label == NULL) {
		ret = usage_error(c.prog, _("-I needs -L label"));
		goto out;
	}
	if (c.label != NULL && strlen(c.label) > 32) {
		ret = usage_error(c.prog, _("the label is longer than 32 bytes"));
		goto out;
	}

	ret = module_load(&c);
	if (ret == 0 && o_i)
		ret = show_info(&c);
	if (ret == 0 && o_s)
		ret = show_slots(&c);
	if (ret == 0 && o_t)
		ret = show_tokens(&c);
	if (ret == 0 && o_m)
		ret = show_mechanisms(&c);
	if (ret == 0 && o_I)
		ret = init_token(&c);
	if (ret == 0 && o_u)
		ret = init_user_pin(&c);
	if (ret == 0 && o_p)
		ret = set_pin(&c, CKU_USER);
	if (ret == 0 && o_P)
		ret = set_pin(&c, CKU_SO);
	if (ret == 0 && po.generate != NULL)
		ret = generate_key(&c, &po);
	if (ret == 0 && po.import_p12 != NULL)
		ret = import_p12(&c, &po);
	if (ret == 0 && po.import_cert != NULL)
		ret = import_cert(&c, &po);
	if (ret == 0 && po.request != NULL)
		ret = make_request(&c, &po);
	if (ret == 0 && (o_e || o_r || o_f)) {
		if (o_f)
			ret = objects(&c, false, o_d, false, true);
		if (ret == 0 && (o_e || o_r))
			ret = objects(&c, o_e, o_d, o_r, false);
	}
	module_unload(&c);
out:
	secret_free(c.user_pin);
	secret_free(c.so_pin);
	secret_free(c.new_pin);
	secret_free(po.p12_password);
	return ret;
}
